"""Automation: the assets carry automation conditions; this sensor evaluates them.

token_metrics runs daily at 00:30 UTC for the day that just ended (a live run for D starts no
earlier than D+1 00:30); every downstream asset runs when its inputs update and all their
upstream blocking checks have passed, so a failed check stops the flow in automated runs too.
"""

from __future__ import annotations

import dagster as dg


def build_automation() -> list[dg.SensorDefinition]:
    return [
        dg.AutomationConditionSensorDefinition(
            "smart_trader_automation",
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=60,
        )
    ]
