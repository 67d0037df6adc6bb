"""Gold's rules, written once: eligibility, tier, score and rank order of smart wallets
(DATA_CONTRACT.md, gold/smart_wallets). The gold asset applies them and gold's checks hold the
stored rows against the same expressions.

A null metric fails every threshold. "last_trade_at >= D - 6 days" means last_trade_at >=
(D - max_days_since_last_trade) 00:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from smart_trader import schemas
from smart_trader.settings import EligibilityThresholds

TIERS = ("ELITE", "STRONG", "PROMISING")
# Tier bounds (realized PnL USD, ROI %, win rate %), first that holds; the rest are PROMISING.
TIER_BOUNDS = {"ELITE": (1000.0, 30.0, 60.0), "STRONG": (100.0, 15.0, 40.0)}
SCORE_DECIMALS = 9


def eligibility_rules(as_of_date: date, thresholds: EligibilityThresholds) -> dict[str, pl.Expr]:
    """One boolean expression per rule over wallet_pnl columns: true when the wallet passes.

    Null comparisons are filled with false, so a null metric fails.
    """
    t = thresholds
    since = datetime.combine(as_of_date - timedelta(days=t.max_days_since_last_trade), time(), UTC)
    c = pl.col
    rules = {
        "trade_count": c("trade_count") >= t.min_trade_count,
        "tokens_realized": c("tokens_realized") >= t.min_tokens_realized,
        "realized_pnl": c("realized_pnl_usd") >= t.min_realized_pnl_usd,
        "roi": c("roi_pct") >= t.min_roi_pct,
        "win_rate": c("win_rate_pct") >= t.min_win_rate_pct,
        "pnl_without_best_token": (c("realized_pnl_usd") - c("best_token_realized_pnl_usd"))
        >= t.min_pnl_without_best_token_usd,
        "total_pnl": c("total_pnl_usd") >= t.min_total_pnl_usd,
        "trades_per_day": c("max_trades_per_day") <= t.max_trades_per_day,
        "avg_hold": c("avg_hold_seconds") >= t.min_avg_hold_seconds,
        "unpriced_share": c("unpriced_trade_count") <= t.max_unpriced_trade_share * c("swap_count"),
        "unmatched_share": c("unmatched_sell_usd") <= t.max_unmatched_sell_share * c("sold_usd"),
        "not_truncated": c("history_truncated").not_(),
        "recent": c("last_trade_at") >= pl.lit(since, dtype=schemas.UTC_TIMESTAMP),
        "skill": c("skill_p_value") <= t.max_skill_p_value,
        "open_cost_share": c("open_cost_share") <= t.max_open_cost_share,
    }
    if t.max_best_token_share is not None:
        best_share_bound = t.max_best_token_share * c("realized_pnl_usd")
        rules["best_token_share"] = c("best_token_realized_pnl_usd") <= best_share_bound
    return {name: expr.fill_null(False).alias(name) for name, expr in rules.items()}


def eligibility_failures(
    wallet_pnl: pl.DataFrame, as_of_date: date, thresholds: EligibilityThresholds
) -> pl.DataFrame:
    """wallet_address, one boolean column per rule (true = the wallet FAILS it), eligible."""
    rules = eligibility_rules(as_of_date, thresholds)
    return wallet_pnl.select(
        "wallet_address", *(expr.not_().alias(name) for name, expr in rules.items())
    ).with_columns(eligible=~pl.any_horizontal(*rules))


def tier_expr() -> pl.Expr:
    """The first tier whose bounds the row's realized PnL, ROI and win rate meet (a null metric
    meets none)."""
    out = pl.lit(TIERS[-1])
    for name in reversed(TIERS[:-1]):
        pnl, roi, win = TIER_BOUNDS[name]
        holds = (
            (pl.col("realized_pnl_usd") >= pnl)
            & (pl.col("roi_pct") >= roi)
            & (pl.col("win_rate_pct") >= win)
        )
        out = pl.when(holds.fill_null(False)).then(pl.lit(name)).otherwise(out)
    return out


def score_expr() -> pl.Expr:
    """100 x (0.4 s_pnl + 0.3 s_roi + 0.2 s_win + 0.1 s_act), rounded to 9 decimals."""
    s_pnl = pl.min_horizontal(
        (1 + pl.col("realized_pnl_usd").clip(lower_bound=0.0)).log10() / 5, pl.lit(1.0)
    )
    s_roi = pl.min_horizontal(pl.col("roi_pct").clip(lower_bound=0.0) / 200, pl.lit(1.0))
    s_win = (pl.col("winning_sell_count") + 1) / (pl.col("matched_sell_count") + 2)
    s_act = pl.min_horizontal(pl.col("tokens_realized") / 10, pl.lit(1.0))
    return (100 * (0.4 * s_pnl + 0.3 * s_roi + 0.2 * s_win + 0.1 * s_act)).round(SCORE_DECIMALS)


def in_rank_order(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows in rank order: tier (ELITE, STRONG, PROMISING; any other value last), score
    descending, realized_pnl_usd descending, wallet_address ascending."""
    return frame.sort(
        pl.col("tier").replace_strict(
            {t: i for i, t in enumerate(TIERS)}, default=len(TIERS), return_dtype=pl.Int32
        ),
        "score",
        "realized_pnl_usd",
        "wallet_address",
        descending=[False, True, True, False],
    )


def rank_expr() -> pl.Expr:
    """rank 1..n of rows already in rank order."""
    return pl.int_range(1, pl.len() + 1, dtype=pl.Int32)


def rank_smart_wallets(
    wallet_pnl: pl.DataFrame, *, as_of_date: date, thresholds: EligibilityThresholds
) -> pl.DataFrame:
    """gold/smart_wallets of D: eligible wallets, tier, score, rank 1..n in rank order."""
    rules = eligibility_rules(as_of_date, thresholds)
    eligible = wallet_pnl.filter(pl.all_horizontal(*rules.values()))
    ranked = in_rank_order(eligible.with_columns(tier=tier_expr(), score=score_expr()))
    return schemas.conform(
        ranked.with_columns(as_of_date=pl.lit(as_of_date, dtype=pl.Date), rank=rank_expr()),
        schemas.SMART_WALLETS,
    )


def top_wallets(ranked: pl.DataFrame, rows: int) -> pl.DataFrame:
    """The first `rows` ranked wallets with their headline figures, rounded for display."""
    return ranked.head(rows).select(
        "rank",
        "tier",
        "wallet_address",
        pl.col("score").round(2),
        pl.col("realized_pnl_usd").round(2),
        pl.col("roi_pct").round(1),
        pl.col("win_rate_pct").round(1),
        "tokens_realized",
    )
