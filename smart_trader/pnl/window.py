"""The swaps silver reads for day D (DATA_CONTRACT.md, silver/wallet_token_pnl, Input)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from smart_trader import schemas
from smart_trader.days import day_start, window_days, window_first
from smart_trader.ingest.fetch_plan import tracked_wallets
from smart_trader.settings import Settings


def window_swaps(
    transaction_history: pl.LazyFrame,
    whale_holders: pl.DataFrame,
    day: dt.date,
    settings: Settings,
) -> pl.LazyFrame:
    """The swaps silver reads for D: wallets tracked on D, block_time in the lookback window.

    Out of order (a partition fetched before an earlier whale_holders day existed) two
    transaction_history partitions can hold the same swap: a key is one swap, read once, from
    the partition with the latest ingest_date.
    """
    first = window_first(day, settings.lookback_days)
    wallets = tracked_wallets(whale_holders, day, settings.tracking_days)
    key = list(schemas.TRANSACTION_HISTORY.key)
    return (
        transaction_history.filter(
            pl.col("block_time").is_between(
                day_start(first), day_start(day + dt.timedelta(days=1)), closed="left"
            )
        )
        .join(wallets.lazy(), on="wallet_address", how="semi")
        .filter(pl.col("ingest_date") == pl.col("ingest_date").max().over(key))
    )


def stale_swap_days(
    swaps_materialized: dict[dt.date, int],
    holders_materialized: dict[dt.date, int],
    tracking_days: int,
) -> list[dt.date]:
    """Days P whose transaction_history was materialized before one of whale_holders
    [P − (tracking_days − 1), P] was last materialized: its tracked wallets changed since.

    The values are the latest materializations' storage ids, which grow with time.
    """
    return sorted(
        day
        for day, swaps_at in swaps_materialized.items()
        if any(
            holders_materialized.get(holders_day, -1) > swaps_at
            for holders_day in window_days(day, tracking_days)
        )
    )
