"""The watched wallets intraday: their trades since the last gold day, valued by silver's engine.

Watched wallets: the top `helius_max_addresses` of gold(G), G the newest gold day before D (the
set the webhook sync keeps Helius on). Their trades since G: transaction_history where a day
after G is already fetched, else the live swaps (the history wins a transaction both have: it
carries prices, and it fills any gap left while the receiver was down). Live legs carry no USD
price (Helius gives none): a live leg takes its token's price from the history's latest priced
leg, so a swap against SOL, USDC or USDT is valued by its quote leg, as silver values it.

silver's compute_silver then runs on the lookback window of D: the history up to G plus the
trades since, as of D, with marks from the trades' own prices (no token list exists intraday).
The result keeps the (wallet, token) pairs traded since G, with the open quantity at G (from
silver/wallet_token_pnl(G)) and how the position changed: opened, closed, increased, reduced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import polars as pl

from smart_trader import schemas
from smart_trader.days import day_start, window_first
from smart_trader.pnl.fifo import DUST_EPSILON
from smart_trader.pnl.silver import compute_silver
from smart_trader.receiver.reconcile import net_changes

OPENED, CLOSED, INCREASED, REDUCED, UNCHANGED = (
    "opened",
    "closed",
    "increased",
    "reduced",
    "unchanged",
)
_SWAP_COLUMNS = [c for c in schemas.TRANSACTION_HISTORY.schema.names() if c != "ingest_date"]


def watched_wallets(gold: pl.DataFrame, max_addresses: int) -> pl.DataFrame:
    """(rank, wallet_address) of gold's top wallets, the webhook's monitored set."""
    return gold.sort("rank").head(max_addresses).select("rank", "wallet_address")


def trades_since(
    live_swaps: pl.DataFrame, history: pl.DataFrame, watched: pl.DataFrame, since: dt.datetime
) -> pl.DataFrame:
    """The watched wallets' swaps from `since`: history's, plus live ones history lacks."""
    wallets = watched.select("wallet_address")
    after = pl.col("block_time") >= since
    fetched = history.filter(after).join(wallets, on="wallet_address", how="semi")
    live = (
        live_swaps.filter(after)
        .join(wallets, on="wallet_address", how="semi")
        .join(
            fetched.select("wallet_address", "tx_hash"),
            on=["wallet_address", "tx_hash"],
            how="anti",
        )
    )
    return pl.concat([fetched.select(_SWAP_COLUMNS), live.select(_SWAP_COLUMNS)])


def latest_prices(history: pl.DataFrame) -> pl.DataFrame:
    """(token_address, price_usd): each token's latest valid leg price in the history."""
    legs = pl.concat(
        [
            history.select(
                "block_time",
                token_address=pl.col(f"{side}_token_address"),
                price_usd=pl.col(f"{side}_price_usd"),
            )
            for side in ("sold", "bought")
        ]
    )
    return (
        legs.filter(pl.col("price_usd").is_finite() & (pl.col("price_usd") > 0))
        .sort("block_time", "token_address")
        .group_by("token_address")
        .agg(pl.col("price_usd").last())
    )


def priced(trades: pl.DataFrame, prices: pl.DataFrame) -> pl.DataFrame:
    """Fill missing leg prices (live legs) with the token's latest known price."""
    out = trades
    for side in ("sold", "bought"):
        out = (
            out.join(
                prices.rename({"token_address": f"{side}_token_address", "price_usd": "known"}),
                on=f"{side}_token_address",
                how="left",
                maintain_order="left",
            )
            .with_columns(pl.coalesce(f"{side}_price_usd", "known").alias(f"{side}_price_usd"))
            .drop("known")
        )
    return out


def _position_change(before: pl.Expr, after: pl.Expr, scale: pl.Expr) -> pl.Expr:
    dust = DUST_EPSILON * scale
    return (
        pl.when((before <= dust) & (after > dust))
        .then(pl.lit(OPENED))
        .when((before > dust) & (after <= dust))
        .then(pl.lit(CLOSED))
        .when(after - before > dust)
        .then(pl.lit(INCREASED))
        .when(before - after > dust)
        .then(pl.lit(REDUCED))
        .otherwise(pl.lit(UNCHANGED))
    )


def watched_positions(
    *,
    day: dt.date,
    gold_date: dt.date,
    watched: pl.DataFrame,
    history: pl.DataFrame,
    live_swaps: pl.DataFrame,
    pnl_at_gold: pl.DataFrame,
    lookback_days: int,
    quote_assets: Collection[str],
    non_trade_sources: Collection[str],
    computed_at: dt.datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(live/watched_positions rows for D, the trades since G in event order).

    history: transaction_history rows of the watched wallets, partitions [window start, D], one
    row per key (the latest ingest_date). live_swaps: bronze/live_swaps rows after G.
    pnl_at_gold: silver/wallet_token_pnl(G).
    """
    since = day_start(gold_date + dt.timedelta(days=1))
    end = day_start(day + dt.timedelta(days=1))
    in_window = pl.col("block_time").is_between(
        day_start(window_first(day, lookback_days)), end, closed="left"
    )
    history = history.filter(in_window)
    trades = trades_since(live_swaps.filter(in_window), history, watched, since)
    before = history.filter(pl.col("block_time") < since).join(
        watched.select("wallet_address"), on="wallet_address", how="semi"
    )
    swaps = pl.concat([before.select(_SWAP_COLUMNS), priced(trades, latest_prices(history))])
    token_pnl, _ = compute_silver(
        swaps,
        as_of_date=day,
        quote_assets=quote_assets,
        non_trade_sources=non_trade_sources,
        metric_prices=pl.DataFrame(schema={"token_address": pl.String, "price_usd": pl.Float64}),
        api_prices=pl.DataFrame(schema={"token_address": pl.String, "price_usd": pl.Float64}),
    )
    quotes = pl.Series(sorted(quote_assets), dtype=pl.String)
    nets = net_changes(trades).collect()
    legs = pl.concat(
        [
            trades.select(
                "wallet_address",
                "tx_hash",
                "block_time",
                token_address=pl.col(f"{side}_token_address"),
                qty=pl.col(f"{side}_amount"),
                is_buy=pl.lit(side == "bought"),
            )
            for side in ("sold", "bought")
        ]
    ).filter(~pl.col("token_address").is_in(quotes.implode()))
    touched = (
        legs.join(
            nets.select("wallet_address", "tx_hash", "token_address"),
            on=["wallet_address", "tx_hash", "token_address"],
            how="semi",
        )
        .group_by("wallet_address", "token_address")
        .agg(
            live_trade_count=pl.col("tx_hash").n_unique().cast(pl.Int64),
            live_bought_qty=pl.col("qty").filter(pl.col("is_buy")).sum(),
            live_sold_qty=pl.col("qty").filter(~pl.col("is_buy")).sum(),
        )
    )
    at_gold = pnl_at_gold.select("wallet_address", "token_address", open_qty_at_gold="open_qty")
    positions = (
        touched.join(token_pnl, on=["wallet_address", "token_address"], how="inner")
        .join(at_gold, on=["wallet_address", "token_address"], how="left")
        .join(watched, on="wallet_address", how="left")
        .with_columns(
            as_of_date=pl.lit(day),
            gold_date=pl.lit(gold_date),
            open_qty_at_gold=pl.col("open_qty_at_gold").fill_null(0.0),
            computed_at=pl.lit(computed_at).cast(schemas.UTC_TIMESTAMP),
        )
        .with_columns(
            position_change=_position_change(
                pl.col("open_qty_at_gold"),
                pl.col("open_qty"),
                pl.max_horizontal("bought_qty", "open_qty_at_gold"),
            )
        )
        .sort("rank", "wallet_address", "token_address")
    )
    return schemas.conform(positions, schemas.LIVE_POSITIONS), trades.sort(
        "block_time", "block_number", "tx_hash", "ins_index", "inner_ins_index"
    )


def latest_trades(
    trades: pl.DataFrame, watched: pl.DataFrame, wallets: int, rows: int
) -> pl.DataFrame:
    """The latest `rows` trades of the top `wallets` watched wallets, newest first (a preview)."""
    top = watched.sort("rank").head(wallets)
    return (
        trades.join(top, on="wallet_address", how="inner")
        .sort("block_time", "tx_hash", descending=True)
        .head(rows)
        .select(
            "block_time",
            "rank",
            wallet=pl.col("wallet_address").str.slice(0, 8),
            sold=pl.format(
                "{} {}",
                pl.col("sold_amount").round_sig_figs(6),
                pl.col("sold_token_address").str.slice(0, 6),
            ),
            bought=pl.format(
                "{} {}",
                pl.col("bought_amount").round_sig_figs(6),
                pl.col("bought_token_address").str.slice(0, 6),
            ),
            source="source",
        )
    )
