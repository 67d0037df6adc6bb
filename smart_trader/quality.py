"""The contract's consistency rules as pure functions: each returns the rows that break a rule.

An empty frame means the rule holds. The asset checks (smart_trader.checks) read the data, call
these, and report the count and a few example rows.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from smart_trader.ingest.fetch_plan import day_start
from smart_trader.schemas import TableSpec, schema_problems

EPSILON = 1e-9


def schema_violations(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Columns whose type differs from the contract, and non-null columns holding nulls."""
    problems = [{"column": "", "problem": p} for p in schema_problems(frame.schema, spec)]
    for name in sorted(spec.non_null):
        if name in frame.columns:
            nulls = frame.get_column(name).null_count()
            if nulls:
                problems.append({"column": name, "problem": f"{nulls} null values"})
    return pl.DataFrame(problems, schema={"column": pl.String, "problem": pl.String})


def duplicate_keys(frame: pl.DataFrame, key: tuple[str, ...]) -> pl.DataFrame:
    """Key values that occur more than once, with their count."""
    return (
        frame.group_by(list(key))
        .len("occurrences")
        .filter(pl.col("occurrences") > 1)
        .sort(list(key))
    )


def keys_elsewhere(
    day_keys: pl.DataFrame, other_keys: pl.DataFrame, key: tuple[str, ...]
) -> pl.DataFrame:
    """Keys of day D that also occur in another partition (a table-wide key must be unique)."""
    return day_keys.select(list(key)).join(other_keys.select(list(key)), on=list(key), how="semi")


def missing_references(
    frame: pl.DataFrame, column: str, referenced: pl.Series
) -> pl.DataFrame:
    """Rows whose `column` value is not among `referenced` (a broken foreign key)."""
    return frame.filter(~pl.col(column).is_in(referenced.implode()))


def swaps_outside_range(
    swaps: pl.DataFrame, ranges: pl.DataFrame, day: dt.date
) -> pl.DataFrame:
    """transaction_history(D) rows at or after D+1 00:00, or before their wallet's s_W(D)."""
    end = day_start(day + dt.timedelta(days=1))
    return (
        swaps.join(ranges, on="wallet_address", how="left")
        .filter(
            (pl.col("block_time") >= end)
            | pl.col("start").is_null()
            | (pl.col("block_time") < pl.col("start"))
        )
        .select("wallet_address", "tx_hash", "block_time", "start")
    )


def invalid_values(frame: pl.DataFrame, columns: list[str], nullable: bool) -> pl.DataFrame:
    """Rows where a price or amount column is not finite and > 0 (nulls allowed if nullable)."""
    bad = pl.lit(False)
    for name in columns:
        value = pl.col(name)
        invalid = ~(value.is_finite() & (value > 0))
        bad = bad | (invalid.fill_null(not nullable))
    return frame.filter(bad)


def fifo_invariant_violations(wallet_token_pnl: pl.DataFrame) -> pl.DataFrame:
    """matched + unmatched = sold; open = bought − matched ≥ 0; winning ≤ matched ≤ sells.

    Equalities hold up to float residue of ε × the pair's quantities.
    """
    tolerance = EPSILON * (pl.col("bought_qty") + pl.col("sold_qty")).abs()
    rules = {
        "matched_qty + unmatched_sell_qty != sold_qty": (
            pl.col("matched_qty") + pl.col("unmatched_sell_qty") - pl.col("sold_qty")
        ).abs()
        > tolerance,
        "open_qty != bought_qty - matched_qty": (
            pl.col("open_qty") - (pl.col("bought_qty") - pl.col("matched_qty"))
        ).abs()
        > tolerance,
        "open_qty < 0": pl.col("open_qty") < -tolerance,
        "winning_sell_count > matched_sell_count": pl.col("winning_sell_count")
        > pl.col("matched_sell_count"),
        "matched_sell_count > sell_count": pl.col("matched_sell_count") > pl.col("sell_count"),
    }
    return _rule_rows(wallet_token_pnl, rules, ["wallet_address", "token_address"])


def reconciliation_violations(
    wallet_pnl: pl.DataFrame, wallet_token_pnl: pl.DataFrame
) -> pl.DataFrame:
    """wallet_pnl sums that differ from the sums of the wallet's wallet_token_pnl rows."""
    summed = ["buy_count", "sell_count", "matched_sell_count", "winning_sell_count"]
    money = [
        "bought_usd",
        "sold_usd",
        "cost_basis_sold_usd",
        "unmatched_sell_usd",
        "realized_pnl_usd",
        "unrealized_pnl_usd",
    ]
    per_wallet = wallet_token_pnl.group_by("wallet_address").agg(
        *[pl.col(c).sum().alias(f"tokens_{c}") for c in summed + money],
        pl.len().alias("tokens_tokens_traded"),
    )
    joined = wallet_pnl.join(per_wallet, on="wallet_address", how="left").with_columns(
        pl.col(f"tokens_{c}").fill_null(0) for c in [*summed, *money, "tokens_traded"]
    )
    scale = (pl.col("bought_usd").abs() + pl.col("sold_usd").abs() + 1.0) * EPSILON
    rules = {
        f"{c} != sum over tokens": pl.col(c) != pl.col(f"tokens_{c}")
        for c in [*summed, "tokens_traded"]
    }
    rules |= {
        f"{c} != sum over tokens": (pl.col(c) - pl.col(f"tokens_{c}")).abs() > scale
        for c in money
    }
    return _rule_rows(joined, rules, ["wallet_address"])


def _rule_rows(
    frame: pl.DataFrame, rules: dict[str, pl.Expr], id_columns: list[str]
) -> pl.DataFrame:
    parts = [
        frame.filter(condition.fill_null(True)).select(*id_columns, pl.lit(name).alias("rule"))
        for name, condition in rules.items()
    ]
    return pl.concat(parts) if parts else pl.DataFrame()


def rank_violations(ranked: pl.DataFrame, expected: pl.DataFrame) -> pl.DataFrame:
    """Gold rows whose rank, tier or score differs from what the contract's rules give.

    `expected` is rank_smart_wallets applied to the same day's silver; ranks must be 1..n.
    """
    joined = ranked.join(
        expected.select("wallet_address", "rank", "tier", "score"),
        on="wallet_address",
        how="full",
        suffix="_expected",
        coalesce=True,
    )
    rules = {
        "not eligible (absent from the contract's ranking)": pl.col("rank_expected").is_null(),
        "eligible but missing": pl.col("rank").is_null(),
        "rank differs": pl.col("rank") != pl.col("rank_expected"),
        "tier differs": pl.col("tier") != pl.col("tier_expected"),
        "score differs": (pl.col("score") - pl.col("score_expected")).abs() > 1e-9,
    }
    parts = [
        joined.filter(condition.fill_null(False)).select(
            "wallet_address", "rank", "rank_expected", "tier", "tier_expected", pl.lit(name).alias("rule")
        )
        for name, condition in rules.items()
    ]
    return pl.concat(parts)


def rank_gaps(ranked: pl.DataFrame) -> pl.DataFrame:
    """Ranks that are not exactly 1..n."""
    ranks = ranked.get_column("rank").sort()
    expected = pl.Series("rank", range(1, ranked.height + 1), dtype=ranks.dtype)
    return pl.DataFrame({"rank": ranks, "expected": expected}).filter(
        pl.col("rank") != pl.col("expected")
    )
