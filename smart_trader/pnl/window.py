"""The swaps silver reads for day D (DATA_CONTRACT.md, silver/wallet_token_pnl, Input)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from smart_trader import schemas
from smart_trader.days import day_start, window_days, window_first
from smart_trader.ingest.fetch_plan import tracked_wallets
from smart_trader.settings import Settings


def _in_window(
    transaction_history: pl.LazyFrame,
    whale_holders: pl.DataFrame,
    day: dt.date,
    settings: Settings,
) -> pl.LazyFrame:
    """Rows of the wallets tracked on D with block_time in the lookback window (a swap held by
    several partitions is there once per partition)."""
    first = window_first(day, settings.lookback_days)
    wallets = tracked_wallets(whale_holders, day, settings.tracking_days)
    return transaction_history.filter(
        pl.col("block_time").is_between(
            day_start(first), day_start(day + dt.timedelta(days=1)), closed="left"
        )
    ).join(wallets.lazy(), on="wallet_address", how="semi")


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
    key = list(schemas.TRANSACTION_HISTORY.key)
    return _in_window(transaction_history, whale_holders, day, settings).filter(
        pl.col("ingest_date") == pl.col("ingest_date").max().over(key)
    )


def window_tokens(
    transaction_history: pl.LazyFrame,
    whale_holders: pl.DataFrame,
    day: dt.date,
    settings: Settings,
) -> list[str]:
    """The non-quote tokens of the swaps silver reads for D, sorted. The copies of a swap carry
    the same tokens, so the set needs no per-key pass over the window (the costly part)."""
    return (
        _in_window(transaction_history, whale_holders, day, settings)
        .select(
            pl.concat_list("sold_token_address", "bought_token_address")
            .explode()
            .alias("token_address")
        )
        .unique()
        .filter(~pl.col("token_address").is_in(sorted(settings.quote_asset_set)))
        .sort("token_address")
        .collect()
        .get_column("token_address")
        .to_list()
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
