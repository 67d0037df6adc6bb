"""Which wallets are tracked on a day, and which swaps transaction_history(D) must fetch.

DATA_CONTRACT.md, transaction_history: for each wallet W tracked on D the range is
[s_W(D), D+1 00:00), s_W(D) = 00:00 of the day after the latest P in [D − (lookback − 1), D − 1]
on which W was tracked, else D − (lookback − 1) 00:00. It depends only on whale_holders, so
re-running D reproduces D and days can run in any order.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from smart_trader.days import window_first
from smart_trader.schemas import UTC_TIMESTAMP


def tracked_wallets(whale_holders: pl.DataFrame, day: dt.date, tracking_days: int) -> pl.DataFrame:
    """Distinct wallet_address of whale_holders days [D − (tracking_days − 1), D]."""
    first = window_first(day, tracking_days)
    return (
        whale_holders.lazy()
        .filter(pl.col("snapshot_date").is_between(first, day))
        .select("wallet_address")
        .unique()
        .sort("wallet_address")
        .collect()
    )


def swap_fetch_ranges(
    whale_holders: pl.DataFrame, day: dt.date, lookback_days: int, tracking_days: int
) -> pl.DataFrame:
    """One row per wallet tracked on D: wallet_address, start (the inclusive UTC lower bound).

    W was tracked on P iff it appears in whale_holders on some Q in [P − (tracking − 1), P].
    With Q the latest day before D on which W appears, the latest tracked P ≤ D − 1 is
    min(Q + tracking − 1, D − 1), which lies inside the lookback window exactly when
    Q ≥ D − (lookback − 1) − (tracking − 1).
    """
    first_day = window_first(day, lookback_days)
    earliest_q = window_first(first_day, tracking_days)
    wallets = tracked_wallets(whale_holders, day, tracking_days)
    latest_q = (
        whale_holders.lazy()
        .filter(pl.col("snapshot_date").is_between(earliest_q, day - dt.timedelta(days=1)))
        .group_by("wallet_address")
        .agg(pl.col("snapshot_date").max().alias("latest_q"))
        .collect()
    )
    tracked_until = pl.min_horizontal(
        pl.col("latest_q") + pl.duration(days=tracking_days - 1),
        pl.lit(day - dt.timedelta(days=1)),
    )
    start_day = (
        pl.when(pl.col("latest_q").is_null())
        .then(pl.lit(first_day))
        .otherwise(tracked_until + pl.duration(days=1))
    )
    return (
        wallets.join(latest_q, on="wallet_address", how="left")
        .select(
            "wallet_address",
            start_day.cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
            .cast(UTC_TIMESTAMP)
            .alias("start"),
        )
        .sort("wallet_address")
    )
