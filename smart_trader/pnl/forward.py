"""Forward performance (DATA_CONTRACT.md "Forward performance"): did gold's picks of day D keep
making money over [D+1, E]? The cohort rule, pick_performance from the forward swaps alone (by
silver's own engine), and the per-tier summary. Pure polars, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection

import polars as pl

from smart_trader import schemas
from smart_trader.pnl.silver import compute_silver

BASELINE = "BASELINE"
TIERS = ("ELITE", "STRONG", "PROMISING", BASELINE)
COHORT_SCHEMA = pl.Schema({"wallet_address": pl.String(), "tier": pl.String(), "rank": pl.Int32()})


def picked_on(evaluated_on: dt.date, forward_days: int) -> dt.date:
    """D = E − forward_days: the gold day partition E judges."""
    return evaluated_on - dt.timedelta(days=forward_days)


def cohort(
    smart_wallets: pl.DataFrame, wallet_pnl: pl.DataFrame, baseline_size: int
) -> pl.DataFrame:
    """wallet_address, tier, rank: every wallet of gold(D) with its rank and tier, then up to
    baseline_size wallets of wallet_pnl(D) not in gold(D), those with the smallest
    sha256(wallet_address) hex digest (a fixed pseudo-random sample), tier BASELINE, rank null."""
    gold = smart_wallets.select("wallet_address", "tier", "rank").cast(COHORT_SCHEMA)
    others = sorted(
        set(wallet_pnl.get_column("wallet_address").to_list())
        - set(gold.get_column("wallet_address").to_list())
    )
    digests = sorted((hashlib.sha256(w.encode()).hexdigest(), w) for w in others)
    baseline = pl.DataFrame(
        {
            "wallet_address": [w for _, w in digests[:baseline_size]],
            "tier": BASELINE,
            "rank": None,
        },
        schema=COHORT_SCHEMA,
    )
    return pl.concat([gold.sort("rank"), baseline])


def pick_performance(
    pick_swaps: pl.DataFrame,
    members: pl.DataFrame,
    *,
    evaluated_on: dt.date,
    picked_on: dt.date,
    quote_assets: Collection[str],
    non_trade_sources: Collection[str],
    api_prices: pl.DataFrame,
) -> pl.DataFrame:
    """One row per cohort member: silver's rules on its forward swaps alone, so no lot opened
    on or before D is carried in (a sell of such a position is unmatched). Marks are day E's:
    api_prices (token_prices(E), possibly empty), then the swaps' own last and implied trades;
    no token_metrics mark. A member without forward trades has zeros and a null ROI."""
    _, wallet_pnl = compute_silver(
        pick_swaps.lazy().filter(
            pl.col("wallet_address").is_in(members["wallet_address"].to_list())
        ),
        as_of_date=evaluated_on,
        quote_assets=quote_assets,
        non_trade_sources=non_trade_sources,
        metric_prices=pl.DataFrame(schema={"token_address": pl.String, "price_usd": pl.Float64}),
        api_prices=api_prices.select("token_address", "price_usd"),
    )
    forward = wallet_pnl.select(
        "wallet_address",
        forward_trade_count=pl.col("trade_count"),
        forward_realized_pnl_usd=pl.col("realized_pnl_usd"),
        forward_unrealized_pnl_usd=pl.col("unrealized_pnl_usd"),
        forward_total_pnl_usd=pl.col("total_pnl_usd"),
        forward_cost_basis_sold_usd=pl.col("cost_basis_sold_usd"),
        forward_roi_pct=pl.col("roi_pct"),
    )
    rows = (
        members.join(forward, on="wallet_address", how="left", maintain_order="left")
        .with_columns(
            pl.col("forward_trade_count").fill_null(0),
            *(
                pl.col(c).fill_null(0.0)
                for c in forward.columns
                if c.endswith("_usd") and c != "forward_roi_pct"
            ),
            evaluated_on=pl.lit(evaluated_on, dtype=pl.Date),
            picked_on=pl.lit(picked_on, dtype=pl.Date),
        )
        .sort(pl.col("tier").replace_strict(TIERS, range(len(TIERS))), "rank", "wallet_address")
    )
    return schemas.conform(rows, schemas.PICK_PERFORMANCE)


def tier_summary(performance: pl.DataFrame) -> pl.DataFrame:
    """Per tier (ELITE, STRONG, PROMISING, BASELINE, each listed): wallets, the share with
    forward_total_pnl_usd > 0, and the median and mean forward_total_pnl_usd (null if none)."""
    total = pl.col("forward_total_pnl_usd")
    stats = performance.group_by("tier").agg(
        wallets=pl.len().cast(pl.Int64),
        share_positive=(total > 0).mean(),
        median_forward_total_pnl_usd=total.median(),
        mean_forward_total_pnl_usd=total.mean(),
    )
    return (
        pl.DataFrame({"tier": TIERS})
        .join(stats, on="tier", how="left", maintain_order="left")
        .with_columns(pl.col("wallets").fill_null(0))
    )


def elite_not_above_baseline(performance: pl.DataFrame) -> pl.DataFrame:
    """A row when ELITE's median forward_total_pnl_usd does not beat BASELINE's; none when it
    does, or when either tier has no wallet (nothing to compare)."""
    summary = tier_summary(performance).filter(pl.col("tier").is_in(["ELITE", BASELINE]))
    medians = dict(summary.select("tier", "median_forward_total_pnl_usd").iter_rows())
    elite, baseline = medians["ELITE"], medians[BASELINE]
    if elite is None or baseline is None or elite > baseline:
        return pl.DataFrame(schema={"elite_median": pl.Float64, "baseline_median": pl.Float64})
    return pl.DataFrame({"elite_median": [elite], "baseline_median": [baseline]})


def cohort_mismatches(performance: pl.DataFrame, expected: pl.DataFrame) -> pl.DataFrame:
    """wallet_address, problem: a row missing from the cohort, a cohort member without a row,
    or a member whose tier or rank differ from the cohort rule's."""
    rows = performance.select("wallet_address", "tier", "rank")
    both = rows.join(expected, on="wallet_address", how="full", suffix="_expected", coalesce=True)
    problem = (
        pl.when(pl.col("tier").is_null())
        .then(pl.lit("cohort member without a row"))
        .when(pl.col("tier_expected").is_null())
        .then(pl.lit("not in the cohort"))
        .when(
            (pl.col("tier") != pl.col("tier_expected"))
            | pl.col("rank").ne_missing(pl.col("rank_expected"))
        )
        .then(
            pl.format(
                "tier {} rank {}, the cohort rule gives tier {} rank {}",
                "tier",
                pl.col("rank").cast(pl.String).fill_null("null"),
                "tier_expected",
                pl.col("rank_expected").cast(pl.String).fill_null("null"),
            )
        )
    )
    return (
        both.select("wallet_address", problem=problem)
        .filter(pl.col("problem").is_not_null())
        .sort("wallet_address")
    )


def tier_violations(performance: pl.DataFrame) -> pl.DataFrame:
    """Rows whose tier is not one of TIERS, or whose rank is not null exactly for BASELINE."""
    is_baseline = pl.col("tier") == BASELINE
    bad = ~pl.col("tier").is_in(TIERS) | (is_baseline != pl.col("rank").is_null())
    return performance.filter(bad).select("wallet_address", "tier", "rank")


def forward_range_violations(
    pick_swaps: pl.DataFrame, members: pl.DataFrame, picked: dt.date, evaluated_on: dt.date
) -> pl.DataFrame:
    """Swaps of a wallet outside the cohort, or with block_time outside [D+1 00:00, E+1 00:00)."""
    start = dt.datetime.combine(picked + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(evaluated_on + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    problem = (
        pl.when(~pl.col("wallet_address").is_in(members["wallet_address"].to_list()))
        .then(pl.lit("wallet not in the cohort"))
        .when((pl.col("block_time") < start) | (pl.col("block_time") >= end))
        .then(pl.lit(f"block_time outside [{start.isoformat()}, {end.isoformat()})"))
    )
    return (
        pick_swaps.select("wallet_address", "tx_hash", "block_time", problem=problem)
        .filter(pl.col("problem").is_not_null())
        .sort("wallet_address", "block_time", "tx_hash")
    )
