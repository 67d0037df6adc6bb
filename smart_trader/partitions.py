"""The one daily partitioning (UTC) and the windows between layers, as partition mappings.

Dagster shows through these mappings what depends on what: re-materializing whale_holders(P)
marks the transaction_history and silver days that read P as stale.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from smart_trader.settings import Settings

FIRST_DAY = "2025-01-01"

DAILY = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC", end_offset=0)


def day_of(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)


def _trailing_days(days: int) -> dg.TimeWindowPartitionMapping:
    """Partition D reads upstream days [D − (days − 1), D]; days before FIRST_DAY do not exist."""
    return dg.TimeWindowPartitionMapping(
        start_offset=-(days - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
    )


def tracked_wallets_window(settings: Settings) -> dg.TimeWindowPartitionMapping:
    """whale_holders days that define the wallets tracked on D."""
    return _trailing_days(settings.tracking_days)


def fetch_plan_window(settings: Settings) -> dg.TimeWindowPartitionMapping:
    """whale_holders days that decide transaction_history(D)'s fetch ranges.

    A wallet tracked on any P in [D − (lookback − 1), D] was in whale_holders on some day in
    [P − (tracking − 1), P], so the window reaches back lookback + tracking − 2 days.
    """
    return _trailing_days(settings.lookback_days + settings.tracking_days - 1)


def swaps_window(settings: Settings) -> dg.TimeWindowPartitionMapping:
    """transaction_history days that silver reads for D."""
    return _trailing_days(settings.lookback_days)
