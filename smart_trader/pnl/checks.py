"""Silver invariants (DATA_CONTRACT.md) as frames of violations, for asset checks and tests.

Float identities hold up to residue: epsilon (1e-9) times the pair's quantities
(bought_qty + sold_qty), or, for wallet sums, times the wallet's traded volume.
"""

from __future__ import annotations

import polars as pl

from smart_trader.pnl.fifo import DUST_EPSILON
from smart_trader.pnl.skill import is_profitable, is_realized

_KEYS = ("wallet_address", "token_address")


def fifo_invariant_rules() -> dict[str, pl.Expr]:
    """One boolean expression per wallet_token_pnl invariant: true when the row VIOLATES it."""
    c = pl.col
    tol = DUST_EPSILON * (c("bought_qty") + c("sold_qty"))
    return {
        "matched_plus_unmatched_is_sold": (
            (c("matched_qty") + c("unmatched_sell_qty") - c("sold_qty")).abs() > tol
        ),
        "open_is_bought_minus_matched": (
            (c("open_qty") - (c("bought_qty") - c("matched_qty"))).abs() > tol
        ),
        "open_not_negative": c("open_qty") < -tol,
        "winning_le_matched": c("winning_sell_count") > c("matched_sell_count"),
        "matched_le_sells": c("matched_sell_count") > c("sell_count"),
    }


def fifo_invariant_violations(wallet_token_pnl: pl.DataFrame) -> pl.DataFrame:
    """wallet_address, token_address, rule: one row per violated invariant (empty when sound)."""
    rules = fifo_invariant_rules()
    flagged = wallet_token_pnl.select(*_KEYS, *(expr.alias(n) for n, expr in rules.items()))
    return (
        flagged.unpivot(index=list(_KEYS), on=list(rules), variable_name="rule")
        .filter(pl.col("value"))
        .select(*_KEYS, "rule")
        .sort(*_KEYS, "rule")
    )


_SUMMED_COUNTS = ("buy_count", "sell_count", "matched_sell_count", "winning_sell_count")
_SUMMED_MONEY = (
    "bought_usd",
    "sold_usd",
    "cost_basis_sold_usd",
    "unmatched_sell_usd",
    "open_cost_usd",
    "realized_pnl_usd",
    "unrealized_pnl_usd",
)


def reconciliation_mismatches(
    wallet_token_pnl: pl.DataFrame, wallet_pnl: pl.DataFrame
) -> pl.DataFrame:
    """wallet_address, column, wallet_value, token_sum: where wallet_pnl disagrees with the sum
    of its wallet_token_pnl rows (counts exactly, money within epsilon x the wallet's traded
    volume plus its open positions at mark), tokens_traded, tokens_realized and
    tokens_profitable included. A wallet_token_pnl wallet missing from wallet_pnl shows with
    column `missing_wallet_row`."""
    c = pl.col
    sums = wallet_token_pnl.group_by("wallet_address").agg(
        *(c(n).sum() for n in (*_SUMMED_COUNTS, *_SUMMED_MONEY)),
        tokens_traded=pl.len().cast(pl.Int64),
        tokens_realized=is_realized().sum().cast(pl.Int64),
        tokens_profitable=is_profitable().sum().cast(pl.Int64),
        scale=(
            c("bought_usd")
            + c("sold_usd")
            + (c("bought_qty") + c("sold_qty")) * c("mark_price_usd")
        ).sum(),
    )
    missing = sums.join(wallet_pnl, on="wallet_address", how="anti").select(
        "wallet_address",
        column=pl.lit("missing_wallet_row"),
        wallet_value=pl.lit(None, dtype=pl.Float64),
        token_sum=pl.lit(None, dtype=pl.Float64),
    )
    exact = (*_SUMMED_COUNTS, "tokens_traded", "tokens_realized", "tokens_profitable")
    joined = wallet_pnl.join(sums, on="wallet_address", how="left", suffix="_tok").with_columns(
        *(pl.col(f"{n}_tok").fill_null(0) for n in (*exact, *_SUMMED_MONEY)),
        pl.col("scale").fill_null(0.0),
    )
    parts = [missing]
    for name in (*exact, *_SUMMED_MONEY):
        if name in exact:
            bad = c(name) != c(f"{name}_tok")
        else:
            bad = (c(name) - c(f"{name}_tok")).abs() > DUST_EPSILON * c("scale")
        parts.append(
            joined.filter(bad).select(
                "wallet_address",
                column=pl.lit(name),
                wallet_value=c(name).cast(pl.Float64),
                token_sum=c(f"{name}_tok").cast(pl.Float64),
            )
        )
    return pl.concat(parts).sort("wallet_address", "column")
