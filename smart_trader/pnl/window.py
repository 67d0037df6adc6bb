"""The swaps silver reads for day D (DATA_CONTRACT.md, silver/wallet_token_pnl, Input)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from smart_trader.days import day_start, window_first
from smart_trader.ingest.fetch_plan import tracked_wallets
from smart_trader.settings import Settings


def window_swaps(
    transaction_history: pl.LazyFrame,
    whale_holders: pl.DataFrame,
    day: dt.date,
    settings: Settings,
) -> pl.LazyFrame:
    """The swaps silver reads for D: wallets tracked on D, block_time in the lookback window."""
    first = window_first(day, settings.lookback_days)
    wallets = tracked_wallets(whale_holders, day, settings.tracking_days)
    return transaction_history.filter(
        pl.col("block_time").is_between(
            day_start(first), day_start(day + dt.timedelta(days=1)), closed="left"
        )
    ).join(wallets.lazy(), on="wallet_address", how="semi")
