"""Live swaps against the trade history: which trades the webhook missed, or got differently.

Both sides are reduced to the wallet's net change per (transaction, token), the unit silver's
events are built on: a live swap is one row per transaction, while BirdEye may report the same
transaction as several swaps (a multi-hop route through an intermediate token, a split route).
An intermediate token nets to zero and drops out, as it gives no event in silver either.
"""

from __future__ import annotations

import polars as pl

KEY = ("wallet_address", "tx_hash", "token_address")
RELATIVE_TOLERANCE = 1e-9
MATCH, MISSING_LIVE, MISSING_HISTORY, AMOUNT_MISMATCH = (
    "match",
    "missing_live",
    "missing_history",
    "amount_mismatch",
)


def net_changes(swaps: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """(wallet_address, tx_hash, token_address, net, moved): bought minus sold per token."""
    legs = swaps.lazy().select(
        "wallet_address",
        "tx_hash",
        pl.concat_list(
            pl.struct(token_address=pl.col("sold_token_address"), change=-pl.col("sold_amount")),
            pl.struct(token_address=pl.col("bought_token_address"), change=pl.col("bought_amount")),
        ).alias("leg"),
    )
    return (
        legs.explode("leg")
        .unnest("leg")
        .group_by(KEY)
        .agg(net=pl.col("change").sum(), moved=pl.col("change").abs().sum())
        .filter(pl.col("net").abs() > RELATIVE_TOLERANCE * pl.col("moved"))
        .drop("moved")
    )


def reconcile(
    live: pl.DataFrame | pl.LazyFrame, history: pl.DataFrame | pl.LazyFrame
) -> pl.DataFrame:
    """One row per (wallet, transaction, token) on either side, with `status`.

    Pass both sides over the same wallets and time range (e.g. live_swaps of day D and
    transaction_history's swaps of the same wallets with block_time in D).
    """
    joined = net_changes(live).join(
        net_changes(history), on=list(KEY), how="full", coalesce=True, suffix="_history"
    )
    return (
        joined.rename({"net": "live_net", "net_history": "history_net"})
        .with_columns(
            status=pl.when(pl.col("live_net").is_null())
            .then(pl.lit(MISSING_LIVE))
            .when(pl.col("history_net").is_null())
            .then(pl.lit(MISSING_HISTORY))
            .when(_close())
            .then(pl.lit(MATCH))
            .otherwise(pl.lit(AMOUNT_MISMATCH))
        )
        .sort(KEY)
        .collect()
    )


def _close() -> pl.Expr:
    """Equal nets up to float residue, and so the same direction."""
    live_net, history_net = pl.col("live_net"), pl.col("history_net")
    return (live_net - history_net).abs() <= RELATIVE_TOLERANCE * pl.max_horizontal(
        live_net.abs(), history_net.abs()
    )
