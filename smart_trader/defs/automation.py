"""Automation: when each asset runs by itself, and the sensor that evaluates those conditions.

token_metrics runs daily at 00:30 UTC for the day that just ended (a live run for D starts no
earlier than D+1 00:30). Every downstream asset runs when an input updates and all upstream
blocking checks have passed, so a failed check stops the flow in automated runs too.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

DAILY_AT_0030 = dg.AutomationCondition.on_cron("30 0 * * *")


def after_inputs(window_inputs: Sequence[dg.AssetKey] = ()) -> dg.AutomationCondition:
    """Dagster's eager(), gated on upstream blocking checks.

    Window inputs (a month of swaps, a week of holders) are exempt from eager's "no missing
    input" rule: a window legitimately reaches before the first materialized day, and the
    asset itself enforces the contract's rule on which days must exist.
    """
    missing = dg.AutomationCondition.any_deps_missing()
    if window_inputs:
        missing = missing.ignore(dg.AssetSelection.assets(*window_inputs))
    return (
        dg.AutomationCondition.in_latest_time_window()
        & (
            dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()
        ).since_last_handled()
        & ~missing
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("after inputs, blocking checks passed")


def after_any_gold_update() -> dg.AutomationCondition:
    """The webhook sync follows any new gold partition; it checks that partition's checks itself."""
    return (
        dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("after a gold update")


def build_automation() -> list[dg.SensorDefinition]:
    return [
        dg.AutomationConditionSensorDefinition(
            "smart_trader_automation",
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=60,
        )
    ]
