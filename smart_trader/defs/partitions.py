"""The one daily partitioning (UTC) and the windows between layers, as partition mappings.

The mappings are the real dependencies and no more, because Dagster acts on them three ways: the
UI marks a day whose inputs changed "Unsynced", automation re-runs those days, and a backfill
both orders its runs by them (a day waits for the upstream days it reads) and widens a range
to every day downstream of it (capped at the newest day).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from smart_trader.resources.delta_io_manager import ALLOW_MISSING
from smart_trader.settings import Settings

FIRST_DAY = "2025-01-01"

DAILY = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC", end_offset=0)


def day_of(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)


def window_mapping(days: int) -> dg.TimeWindowPartitionMapping:
    """Upstream days [D − (days − 1), D]; days before FIRST_DAY do not exist."""
    return dg.TimeWindowPartitionMapping(
        start_offset=-(days - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
    )


def window_input(key: dg.AssetKey, days: int) -> dg.AssetIn:
    """An input of upstream days [D − (days − 1), D].

    Days before FIRST_DAY do not exist and days never materialized read as empty (a window
    legitimately reaches before the first run); the assets enforce the contract's rules on
    which days must exist.
    """
    return dg.AssetIn(key, partition_mapping=window_mapping(days), metadata={ALLOW_MISSING: True})


def window_dep(key: dg.AssetKey, days: int) -> dg.AssetDep:
    """A dependency on upstream days [D − (days − 1), D] that the asset reads itself."""
    return dg.AssetDep(key, partition_mapping=window_mapping(days))


def tracked_wallets_days(settings: Settings) -> int:
    """whale_holders days that define the wallets tracked on D."""
    return settings.tracking_days


def fetch_plan_days(settings: Settings) -> int:
    """whale_holders days that decide transaction_history(D)'s fetch ranges.

    A wallet tracked on any P in [D − (lookback − 1), D] was in whale_holders on some day in
    [P − (tracking − 1), P], so the window reaches back lookback + tracking − 2 days.
    """
    return settings.lookback_days + settings.tracking_days - 1


def swaps_days(settings: Settings) -> int:
    """transaction_history days that silver reads for D."""
    return settings.lookback_days


def forward_input(key: dg.AssetKey, settings: Settings) -> dg.AssetIn:
    """For evaluation day E: upstream day D = E − forward_days (forward performance). A D before
    FIRST_DAY or never materialized reads as empty: partition E is then empty."""
    back = -settings.forward_days
    mapping = dg.TimeWindowPartitionMapping(
        start_offset=back, end_offset=back, allow_nonexistent_upstream_partitions=True
    )
    return dg.AssetIn(key, partition_mapping=mapping, metadata={ALLOW_MISSING: True})
