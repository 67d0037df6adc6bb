"""The contract's consistency rules as pure functions: each returns the rows that break a rule.

An empty frame means the rule holds. The asset checks (smart_trader.checks) read the data, call
these, and report the count and a few example rows. Where a frame can break several rules, a
`rule` column names the one each row breaks. The silver invariants live in smart_trader.pnl.checks
(shared with the PnL tests); gold's eligibility, tier, score and rank order are
smart_trader.gold_rules', which the gold asset applies.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from smart_trader.days import day_start
from smart_trader.gold_rules import (
    eligibility_rules,
    in_rank_order,
    rank_expr,
    score_expr,
    tier_expr,
)
from smart_trader.pnl.silver import wallet_ratios
from smart_trader.pnl.skill import skill_p_values, token_return
from smart_trader.schemas import TableSpec
from smart_trader.settings import NATIVE_SOL, EligibilityThresholds, TokenFilters

EPSILON = 1e-9


def schema_violations(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Columns missing or of another type than the contract's, and non-null columns holding
    nulls (extra columns are allowed)."""
    problems = []
    for name, dtype in spec.schema.items():
        if name not in frame.schema:
            problems.append({"column": name, "problem": "missing"})
        elif frame.schema[name] != dtype:
            problems.append(
                {"column": name, "problem": f"is {frame.schema[name]}, contract says {dtype}"}
            )
        elif name in spec.non_null and (nulls := frame.get_column(name).null_count()):
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


def missing_references(frame: pl.DataFrame, column: str, referenced: pl.Series) -> pl.DataFrame:
    """Rows whose `column` value is not among `referenced` (a broken foreign key)."""
    return frame.filter(~pl.col(column).is_in(referenced.implode()))


def swaps_outside_range(swaps: pl.DataFrame, ranges: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """transaction_history(D) rows outside their wallet's fetch range [s_W(D), D+1 00:00)."""
    end = day_start(day + dt.timedelta(days=1))
    rule = (
        pl.when(pl.col("block_time") >= end)
        .then(pl.lit(f"block_time at or after {end.isoformat()}"))
        .when(pl.col("start").is_null())
        .then(pl.lit("wallet not tracked on D: no fetch range"))
        .when(pl.col("block_time") < pl.col("start"))
        .then(pl.lit("block_time before the wallet's range start s_W(D)"))
    )
    return (
        swaps.join(ranges, on="wallet_address", how="left")
        .with_columns(rule=rule)
        .filter(pl.col("rule").is_not_null())
        .select("wallet_address", "tx_hash", "block_time", "start", "rule")
        .sort("block_time", "tx_hash", "wallet_address")
    )


def invalid_values(
    frame: pl.DataFrame, columns: list[str], id_columns: list[str], nullable: bool = False
) -> pl.DataFrame:
    """One row per (row, column) whose value is not finite and > 0 (null allowed if nullable)."""
    parts = [
        frame.filter((~(pl.col(c).is_finite() & (pl.col(c) > 0))).fill_null(not nullable)).select(
            *id_columns, column=pl.lit(c), value=pl.col(c).cast(pl.Float64)
        )
        for c in columns
    ]
    return pl.concat(parts)


def malformed_swaps(swaps: pl.DataFrame) -> pl.DataFrame:
    """Swaps the parser should have rejected or normalized: one token on both legs, or the
    native-SOL pseudo-mint stored instead of wSOL."""
    rule = (
        pl.when(pl.col("sold_token_address") == pl.col("bought_token_address"))
        .then(pl.lit("same token on both legs"))
        .when(
            (pl.col("sold_token_address") == NATIVE_SOL)
            | (pl.col("bought_token_address") == NATIVE_SOL)
        )
        .then(pl.lit("native SOL pseudo-mint not stored as wSOL"))
    )
    return (
        swaps.with_columns(rule=rule)
        .filter(pl.col("rule").is_not_null())
        .select(
            "tx_hash",
            "ins_index",
            "inner_ins_index",
            "wallet_address",
            "sold_token_address",
            "bought_token_address",
            "rule",
        )
    )


def transactions_across_blocks(swaps: pl.DataFrame) -> pl.DataFrame:
    """(wallet_address, tx_hash) whose swaps lie in more than one (block_time, block_number): a
    transaction lies in one block, and silver finds a transaction's swaps by their block."""
    return (
        swaps.group_by("wallet_address", "tx_hash")
        .agg(blocks=pl.struct("block_time", "block_number").n_unique())
        .filter(pl.col("blocks") > 1)
        .sort("wallet_address", "tx_hash")
        .with_columns(rule=pl.lit("one transaction's swaps in more than one block"))
    )


def token_filter_violations(
    tokens: pl.DataFrame, filters: TokenFilters, quote_assets: frozenset[str]
) -> pl.DataFrame:
    """token_metrics rows outside the token filters (inclusive bounds) or that are quote assets."""
    c = pl.col
    f = filters
    rules = {
        "quote asset": c("token_address").is_in(sorted(quote_assets)),
        f"liquidity_usd outside [{f.min_liquidity_usd}, {f.max_liquidity_usd}]": ~c(
            "liquidity_usd"
        ).is_between(f.min_liquidity_usd, f.max_liquidity_usd),
        f"volume_1h_usd < {f.min_volume_1h_usd}": c("volume_1h_usd") < f.min_volume_1h_usd,
        f"price_change_2h_pct < {f.min_price_change_2h_pct}": c("price_change_2h_pct")
        < f.min_price_change_2h_pct,
        f"price_change_24h_pct < {f.min_price_change_24h_pct}": c("price_change_24h_pct")
        < f.min_price_change_24h_pct,
    }
    return rule_rows(tokens, rules, ["token_address", "symbol"])


def holder_rank_violations(holders: pl.DataFrame) -> pl.DataFrame:
    """Holders whose rank is not their place 1..n per token (ui_amount desc, wallet asc)."""
    return (
        holders.sort(
            ["token_address", "ui_amount", "wallet_address"], descending=[False, True, False]
        )
        .with_columns(
            expected_rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("token_address")
        )
        .filter(pl.col("rank") != pl.col("expected_rank"))
        .select("token_address", "wallet_address", "ui_amount", "rank", "expected_rank")
    )


def quote_asset_rows(wallet_token_pnl: pl.DataFrame, quote_assets: frozenset[str]) -> pl.DataFrame:
    """PnL rows of a quote asset (quote assets are cash and get no PnL rows)."""
    return wallet_token_pnl.filter(pl.col("token_address").is_in(sorted(quote_assets))).select(
        "wallet_address", "token_address"
    )


def mark_violations(wallet_token_pnl: pl.DataFrame, mark_sources: tuple[str, ...]) -> pl.DataFrame:
    """Invalid mark prices, unknown mark sources, and unrealized PnL that is not
    open_qty * mark - open_cost."""
    c = pl.col
    unrealized = c("open_qty") * c("mark_price_usd") - c("open_cost_usd")
    scale = (c("open_qty") * c("mark_price_usd")).abs() + c("open_cost_usd").abs() + 1.0
    rules = {
        "mark_price_usd not finite and > 0": ~(
            c("mark_price_usd").is_finite() & (c("mark_price_usd") > 0)
        ),
        f"mark_source not one of {', '.join(mark_sources)}": ~c("mark_source").is_in(
            list(mark_sources)
        ),
        "unrealized_pnl_usd != open_qty * mark_price_usd - open_cost_usd": (
            c("unrealized_pnl_usd") - unrealized
        ).abs()
        > EPSILON * scale,
    }
    return rule_rows(wallet_token_pnl, rules, ["wallet_address", "token_address"])


def wallet_metric_violations(
    wallet_pnl: pl.DataFrame, wallet_token_pnl: pl.DataFrame
) -> pl.DataFrame:
    """wallet_pnl columns derived from its own sums, or from its tokens' rows, that disagree with
    their definition: total = realized + unrealized; roi = realized / cost_basis_sold * 100
    (null iff that is 0); win rate = Σ winning / Σ matched * 100 (null iff that is 0);
    open_cost_share = open_cost / (open_cost + cost_basis_sold) (null iff both are 0); best
    token = the largest per-token realized PnL; skill_p_value = the signed-rank test over the
    per-token returns of its wallet_token_pnl rows."""
    c = pl.col
    tokens = wallet_token_pnl.with_columns(
        wallet_id=c("wallet_address").rank("dense").cast(pl.Int64)
    )
    best = tokens.group_by("wallet_address", "wallet_id").agg(
        expected_best=c("realized_pnl_usd").max()
    )
    returns = tokens.select("wallet_id", r=token_return()).drop_nulls()
    expected = best.join(skill_p_values(returns), on="wallet_id", how="left").select(
        "wallet_address", "expected_best", expected_skill="skill_p_value"
    )
    joined = wallet_pnl.join(expected, on="wallet_address", how="left").with_columns(
        **{f"expected_{name}": expr for name, expr in wallet_ratios().items()}
    )
    money = c("realized_pnl_usd").abs() + c("unrealized_pnl_usd").abs() + 1.0
    rules = {
        "total_pnl_usd != realized + unrealized": (
            c("total_pnl_usd") - c("expected_total_pnl_usd")
        ).abs()
        > EPSILON * money,
        "roi_pct != realized / cost_basis_sold * 100": _differs(
            c("roi_pct"), c("expected_roi_pct")
        ),
        "win_rate_pct != winning / matched * 100": _differs(
            c("win_rate_pct"), c("expected_win_rate_pct")
        ),
        "open_cost_share != open_cost / (open_cost + cost_basis_sold)": _differs(
            c("open_cost_share"), c("expected_open_cost_share")
        ),
        "best_token_realized_pnl_usd != max over tokens": _differs(
            c("best_token_realized_pnl_usd"), c("expected_best")
        ),
        "skill_p_value != signed-rank test over the tokens' returns": _differs(
            c("skill_p_value"), c("expected_skill")
        ),
    }
    return rule_rows(joined, rules, ["wallet_address"])


def _differs(actual: pl.Expr, expected: pl.Expr) -> pl.Expr:
    """Null-aware float comparison within relative EPSILON."""
    both = (actual - expected).abs() > EPSILON * (expected.abs() + 1.0)
    return (
        pl.when(actual.is_null() | expected.is_null())
        .then(actual.is_null() != expected.is_null())
        .otherwise(both)
    )


def eligibility_violations(
    gold: pl.DataFrame, wallet_pnl: pl.DataFrame, day: dt.date, thresholds: EligibilityThresholds
) -> pl.DataFrame:
    """Gold wallets that fail an eligibility rule on their wallet_pnl(D) row; one row per rule."""
    rules = eligibility_rules(day, thresholds)
    flagged = wallet_pnl.join(
        gold.select("wallet_address"), on="wallet_address", how="semi"
    ).select("wallet_address", *(expr.not_().alias(name) for name, expr in rules.items()))
    return (
        flagged.unpivot(index="wallet_address", on=list(rules), variable_name="rule")
        .filter(pl.col("value"))
        .select("wallet_address", pl.concat_str(pl.lit("fails "), "rule").alias("rule"))
        .sort("wallet_address", "rule")
    )


def eligible_but_unranked(
    gold: pl.DataFrame, wallet_pnl: pl.DataFrame, day: dt.date, thresholds: EligibilityThresholds
) -> pl.DataFrame:
    """Wallets of wallet_pnl(D) meeting every eligibility rule that gold(D) does not hold."""
    rules = eligibility_rules(day, thresholds)
    return (
        wallet_pnl.filter(pl.all_horizontal(*rules.values()))
        .join(gold.select("wallet_address"), on="wallet_address", how="anti")
        .select("wallet_address", "realized_pnl_usd", "roi_pct", "win_rate_pct")
        .sort("wallet_address")
    )


def gold_silver_mismatches(gold: pl.DataFrame, wallet_pnl: pl.DataFrame) -> pl.DataFrame:
    """Gold metrics that differ from the wallet's wallet_pnl(D) row they are copied from."""
    copied = [
        c
        for c in gold.columns
        if c in wallet_pnl.columns and c not in ("as_of_date", "wallet_address")
    ]
    joined = gold.join(
        wallet_pnl.select("wallet_address", *copied), on="wallet_address", suffix="_silver"
    )
    rules = {
        f"{c} differs from wallet_pnl": _differs(pl.col(c), pl.col(f"{c}_silver"))
        if gold.schema[c].is_float()
        else pl.col(c).ne_missing(pl.col(f"{c}_silver"))
        for c in copied
    }
    return rule_rows(joined, rules, ["wallet_address"])


def tier_violations(gold: pl.DataFrame) -> pl.DataFrame:
    """Gold rows whose tier is not the first tier whose bounds they meet."""
    return (
        gold.with_columns(expected_tier=tier_expr())
        .filter(pl.col("tier") != pl.col("expected_tier"))
        .select(
            "wallet_address", "tier", "expected_tier", "realized_pnl_usd", "roi_pct", "win_rate_pct"
        )
    )


def score_violations(gold: pl.DataFrame) -> pl.DataFrame:
    """Gold rows whose score is not the contract's formula on their own columns."""
    return (
        gold.with_columns(expected_score=score_expr())
        .filter((pl.col("score") - pl.col("expected_score")).abs() > EPSILON)
        .select("wallet_address", "score", "expected_score")
    )


def rank_violations(gold: pl.DataFrame) -> pl.DataFrame:
    """Gold rows whose rank is not their place 1..n in the contract's order: tier (ELITE,
    STRONG, PROMISING), score desc, realized_pnl_usd desc, wallet_address asc. A gap, a repeat
    or an out-of-order rank all show here."""
    return (
        in_rank_order(gold)
        .with_columns(expected_rank=rank_expr())
        .filter(pl.col("rank") != pl.col("expected_rank"))
        .select("wallet_address", "rank", "expected_rank", "tier", "score", "realized_pnl_usd")
    )


def bot_violations(
    gold: pl.DataFrame, wallet_pnl: pl.DataFrame, day: dt.date, thresholds: EligibilityThresholds
) -> pl.DataFrame:
    """Gold wallets over max_trades_per_day or under min_avg_hold_seconds (a null hold fails):
    the eligibility rules that keep bots out, on their own."""
    t = thresholds
    silver = wallet_pnl.join(gold.select("wallet_address"), on="wallet_address", how="semi")
    passes = eligibility_rules(day, t)
    rules = {
        f"max_trades_per_day > {t.max_trades_per_day}": passes["trades_per_day"].not_(),
        f"avg_hold_seconds < {t.min_avg_hold_seconds} or null": passes["avg_hold"].not_(),
    }
    return rule_rows(silver, rules, ["wallet_address", "max_trades_per_day", "avg_hold_seconds"])


def rule_rows(
    frame: pl.DataFrame, rules: dict[str, pl.Expr], id_columns: list[str]
) -> pl.DataFrame:
    """id_columns and `rule` for every (row, rule) the row breaks; a null outcome breaks it."""
    return pl.concat(
        [
            frame.filter(broken.fill_null(True)).select(*id_columns, rule=pl.lit(name))
            for name, broken in rules.items()
        ]
    )
