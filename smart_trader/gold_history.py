"""gold/wallet_history: each wallet's record in gold as of day D, in SQL over gold's partitions.

A relational question (group the daily rankings by wallet, join today's and yesterday's rank),
so it is written in DuckDB SQL on the `smart_wallets` view of smart_trader.lake_sql. No Dagster.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from smart_trader.schemas import WALLET_HISTORY, conform

# Every wallet ranked in gold on some day ≤ D. Gold's key (as_of_date, wallet_address) is unique
# (a blocking check), so count(*) counts days. rank_change is previous_rank − rank: positive
# means the wallet climbed; null unless it was ranked both on D − 1 and on D.
WALLET_HISTORY_SQL = """
WITH gold AS (
    SELECT as_of_date, wallet_address, rank
    FROM smart_wallets
    WHERE as_of_date <= $as_of_date
),
totals AS (
    SELECT
        wallet_address,
        count(*) AS days_in_gold,
        min(as_of_date) AS first_gold_date,
        max(as_of_date) AS last_gold_date,
        min(rank) AS best_rank
    FROM gold
    GROUP BY wallet_address
)
SELECT
    $as_of_date AS as_of_date,
    totals.wallet_address,
    CAST(totals.days_in_gold AS INTEGER) AS days_in_gold,
    totals.first_gold_date,
    totals.last_gold_date,
    totals.best_rank,
    today.rank AS rank,
    yesterday.rank AS previous_rank,
    yesterday.rank - today.rank AS rank_change
FROM totals
LEFT JOIN gold AS today
    ON today.wallet_address = totals.wallet_address AND today.as_of_date = $as_of_date
LEFT JOIN gold AS yesterday
    ON yesterday.wallet_address = totals.wallet_address
    AND yesterday.as_of_date = $as_of_date - 1
ORDER BY today.rank NULLS LAST, totals.best_rank, totals.wallet_address
"""


def wallet_history(con: duckdb.DuckDBPyConnection, as_of_date: dt.date) -> pl.DataFrame:
    """gold/wallet_history(D) from the `smart_wallets` view registered on `con`."""
    frame = con.sql(WALLET_HISTORY_SQL, params={"as_of_date": as_of_date}).pl()
    return conform(frame, WALLET_HISTORY)


def summary(history: pl.DataFrame) -> dict[str, int]:
    """Counts for the run's metadata: wallets ever in gold, ranked on D, entered or left on D."""
    ranked, ranked_before = pl.col("rank").is_not_null(), pl.col("previous_rank").is_not_null()
    row = history.select(
        wallets=pl.len(),
        ranked=ranked.sum(),
        entered=(ranked & ~ranked_before).sum(),
        left=(~ranked & ranked_before).sum(),
    ).row(0, named=True)
    return {name: int(count) for name, count in row.items()}


def span_violations(history: pl.DataFrame, as_of_date: dt.date) -> pl.DataFrame:
    """Rows breaking first_gold_date ≤ last_gold_date ≤ D or 1 ≤ days_in_gold ≤ their span."""
    first, last, days = pl.col("first_gold_date"), pl.col("last_gold_date"), pl.col("days_in_gold")
    span = (last - first).dt.total_days() + 1
    holds = (first <= last) & (last <= as_of_date) & (days >= 1) & (days <= span)
    return history.filter(~holds.fill_null(False))


def rank_violations(history: pl.DataFrame) -> pl.DataFrame:
    """Rows whose ranks disagree: rank set exactly when last_gold_date is D, best_rank ≤ rank,
    rank_change = previous_rank − rank."""
    rank, previous, best = pl.col("rank"), pl.col("previous_rank"), pl.col("best_rank")
    change = pl.col("rank_change")
    holds = (
        (rank.is_not_null() == (pl.col("last_gold_date") == pl.col("as_of_date")))
        & (best >= 1)
        & (rank.is_null() | (best <= rank))
        & change.eq_missing(previous - rank)
    )
    return history.filter(~holds.fill_null(False))


def gold_mismatches(history: pl.DataFrame, gold: pl.DataFrame) -> pl.DataFrame:
    """Wallets whose rank on D differs from gold(D)'s (a wallet missing on one side included)."""
    ranked = history.filter(pl.col("rank").is_not_null()).select("wallet_address", "rank")
    return (
        ranked.join(gold.select("wallet_address", "rank"), on="wallet_address", how="full")
        .filter(~pl.col("rank").eq_missing(pl.col("rank_right")))
        .select(
            pl.coalesce("wallet_address", "wallet_address_right").alias("wallet_address"),
            pl.col("rank").alias("history_rank"),
            pl.col("rank_right").alias("gold_rank"),
        )
    )
