"""Swap values and per-transaction events (DATA_CONTRACT.md, "Quote assets and the value of a
swap" and silver/wallet_token_pnl).

Definitions applied here (the contract leaves their exact form to the implementation):
- A swap's value_usd follows the contract's cascade: the priced quote leg (the sold one if both
  legs are quote assets), else the priced sold leg, else the priced bought leg, else null; and
  null (`inconsistent_leg_prices`) when both legs are priced and the larger value is more than
  3x the smaller. A price counts only when finite and > 0.
- Would-be events are per (wallet, tx_hash, non-quote token): a token the wallet both bought and
  sold inside the transaction (a hop or an arbitrage loop) gives none; otherwise its bought legs
  merge into one BUY and its sold legs into one SELL, unpriced when any merged swap is unpriced.
  A quote asset never gets events. Only priced would-be events are events.
- A transaction's position is its first swap in the order (block_time, block_number, tx_hash,
  ins_index, inner_ins_index); every event of the transaction sits there.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import polars as pl

INCONSISTENT_LEG_RATIO = 3.0
ORDER_COLUMNS = ("block_time", "block_number", "tx_hash", "ins_index", "inner_ins_index")
SWAP_COLUMNS = (
    *ORDER_COLUMNS,
    "wallet_address",
    "sold_token_address",
    "sold_amount",
    "sold_price_usd",
    "bought_token_address",
    "bought_amount",
    "bought_price_usd",
    "fetch_truncated",
)


def valid_price(expr: pl.Expr) -> pl.Expr:
    """The price if finite and > 0, else null."""
    return pl.when(expr.is_finite() & (expr > 0)).then(expr)


def swap_value_usd(quote_assets: Collection[str]) -> pl.Expr:
    """value_usd of each swap by the contract's cascade (see the module docstring)."""
    quotes = pl.Series(sorted(quote_assets), dtype=pl.String).implode()
    return leg_value_usd(
        pl.col("sold_token_address").is_in(quotes), pl.col("bought_token_address").is_in(quotes)
    )


def leg_value_usd(sold_quote: pl.Expr, bought_quote: pl.Expr) -> pl.Expr:
    """swap_value_usd given whether each leg is a quote asset."""
    sold_value = pl.col("sold_amount") * valid_price(pl.col("sold_price_usd"))
    bought_value = pl.col("bought_amount") * valid_price(pl.col("bought_price_usd"))
    chosen = (
        pl.when(sold_quote & sold_value.is_not_null())
        .then(sold_value)
        .when(bought_quote & bought_value.is_not_null())
        .then(bought_value)
        .otherwise(pl.coalesce(sold_value, bought_value))
    )
    inconsistent = (
        sold_value.is_not_null()
        & bought_value.is_not_null()
        & (
            pl.max_horizontal(sold_value, bought_value)
            > INCONSISTENT_LEG_RATIO * pl.min_horizontal(sold_value, bought_value)
        )
    )
    return pl.when(inconsistent).then(None).otherwise(chosen)


_HASH_SEEDS = (0, 1, 2)
_DAY_GRID_CELLS = 50_000_000


class HashCollisionError(RuntimeError):
    """Two different addresses share a 64-bit hash under every seed tried (never expected)."""


@dataclass(frozen=True)
class WindowEvents:
    """What silver needs from a window's swaps.

    Long strings are never materialized or sorted in bulk (10^7 addresses and signatures cost
    gigabytes and seconds): the input is read once into numeric columns with 64-bit hashes of
    the addresses (checked collision-free with a second, independent hash), and the few strings
    needed afterwards (one per wallet and token, the tx_hash of swaps that share their wallet's
    block with another swap) are fetched by row. The swaps of one transaction share its block
    (block_time and block_number): only swaps that share one can share a transaction.
    Wallets and tokens get dense ids in lexical order of their address, so that sorting by id
    sorts by address.

    source: the swaps (needed columns, lazily), to fetch strings by row.
    swaps: per swap, in input order: src (the input row), the order columns but tx_hash,
      sold_h/bought_h (token keys), amounts, leg prices, value_usd.
    wallets: wallet_id, wallet_address (row i is wallet_id i). tokens: token_key, token_id,
      token_address (row i is token_id i); quote assets are not in it.
    txs: one row per tx_id (row i is tx_id i): wallet_id.
    wallet_days: per wallet_id, active_days and max_trades_per_day.
    wallet_swaps: per wallet_id, history_truncated and first_us/last_us over its swaps.
    would_be: one row per would-be event: wallet_id, tx_id, token_id, time_us (block_time,
      epoch µs), block_number, tx_hash (null unless the transaction shares its wallet's block
      with another swap: only then can the event order need it), is_buy, qty, value_usd (null
      when unpriced).
    """

    source: pl.LazyFrame
    swaps: pl.DataFrame
    wallets: pl.DataFrame
    tokens: pl.DataFrame
    txs: pl.DataFrame
    wallet_days: pl.DataFrame
    wallet_swaps: pl.DataFrame
    would_be: pl.DataFrame


def rows_at(source: pl.LazyFrame, columns: list[str], rows: np.ndarray) -> pl.DataFrame:
    """source[columns] at the given row numbers, in that order, in one read of those columns."""
    wanted = pl.DataFrame({"row": rows.astype(np.int64)}).with_row_index("at")
    found = (
        source.select(columns)
        .with_row_index("row")
        .filter(pl.col("row").is_in(pl.Series(np.unique(rows).astype(np.int64)).implode()))
        .with_columns(pl.col("row").cast(pl.Int64))
        # Streaming decodes the columns in morsels and keeps only the wanted rows.
        .collect(engine="streaming")
    )
    return wanted.join(found, on="row", how="left").sort("at").select(columns)


def strings_at(source: pl.LazyFrame, column: str, rows: np.ndarray) -> pl.Series:
    """source[column] at the given row numbers, in that order, without reading it all in."""
    return rows_at(source, [column], rows).get_column(column)


def _hashes(seed: int) -> list[pl.Expr]:
    out = []
    for name, col in (
        ("w", "wallet_address"),
        ("sold", "sold_token_address"),
        ("bought", "bought_token_address"),
    ):
        out.append(pl.col(col).hash(seed).alias(f"{name}_h"))
        out.append(pl.col(col).hash(seed + 1_000).alias(f"{name}_h2"))
    return out


def _distinct_keys(keys: pl.DataFrame) -> pl.DataFrame | None:
    """key, src, side: one row per distinct key (key, key2, src, side given per occurrence);
    None if two values share `key`: then (key, key2) has more distinct values than key (a
    coincidence of key ^ key2 only costs a retry with the next seed)."""
    firsts = keys.get_column("key").arg_unique()
    mixed = keys.select(pl.col("key").xor(pl.col("key2"))).to_series()
    if mixed.n_unique() != len(firsts):
        return None
    return keys[firsts].select("key", "src", "side")


def _lexical_ids(distinct: pl.DataFrame, names: pl.Series, name: str) -> pl.DataFrame:
    """key, id, name: ids numbered in lexical order of the names."""
    return (
        distinct.select("key")
        .with_columns(names.alias(name))
        .sort(name)
        .with_row_index("id")
        .select("key", pl.col("id").cast(pl.Int64), name)
    )


def _read(source: pl.LazyFrame, quote_assets: Collection[str], seed: int) -> pl.DataFrame:
    quotes = pl.Series(sorted(quote_assets), dtype=pl.String).implode()
    return (
        source.select(
            "block_time",
            "block_number",
            "ins_index",
            "inner_ins_index",
            "sold_amount",
            "bought_amount",
            "sold_price_usd",
            "bought_price_usd",
            "fetch_truncated",
            *_hashes(seed),
            sold_quote=pl.col("sold_token_address").is_in(quotes),
            bought_quote=pl.col("bought_token_address").is_in(quotes),
        )
        .with_columns(
            value_usd=leg_value_usd(pl.col("sold_quote"), pl.col("bought_quote")),
            # Equal for the swaps of one transaction (one wallet, one block); rarely for others.
            block_key=pl.col("w_h")
            .xor(pl.col("block_time").hash(seed + 2_000))
            .xor(pl.col("block_number").hash(seed + 3_000)),
        )
        .with_row_index("src")
        # Streaming decodes the address strings in morsels and keeps only their hashes.
        .collect(engine="streaming")
    )


def _keyed(
    source: pl.LazyFrame, quote_assets: Collection[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The swaps read with wallet_id, sold_h, bought_h (token keys) and multi (the swap shares
    its wallet's block with another swap, so its transaction may have other swaps), in input
    order; the wallet table (wallet_id, wallet_address); the token table (token_key, token_id,
    token_address); and the multi rows (src, w_h, t_h, tx_hash) sorted by (wallet, tx_hash)
    hashes then block_time, block_number, ins_index, inner_ins_index."""
    for seed in _HASH_SEEDS:
        raw = _read(source, quote_assets, seed)
        wallets = _distinct_keys(
            raw.lazy().select("src", key="w_h", key2="w_h2", side=pl.lit(0, pl.Int8)).collect()
        )
        # Quote assets never get events or marks: only the other legs' tokens are needed. Bought
        # legs come first so that, usually, no token's name has to be read from the sold column.
        tokens = _distinct_keys(
            pl.concat(
                [
                    raw.lazy()
                    .filter(~pl.col("bought_quote"))
                    .select("src", key="bought_h", key2="bought_h2", side=pl.lit(2, pl.Int8)),
                    raw.lazy()
                    .filter(~pl.col("sold_quote"))
                    .select("src", key="sold_h", key2="sold_h2", side=pl.lit(1, pl.Int8)),
                ]
            ).collect()
        )
        if wallets is None or tokens is None:
            continue
        # A transaction is a (wallet, tx_hash) and lies in one block, so only swaps that share
        # (wallet, block_time, block_number) with another swap can share a transaction: one sort
        # on a hash of those finds them, and only their tx_hash is read. The others (almost all
        # swaps) are one-swap transactions. A hash coincidence only sends a few one-swap
        # transactions down the multi-swap path, which groups on the tx_hash itself.
        block_key = raw.get_column("block_key")
        ordered = block_key.sort().to_numpy()
        shared = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        is_multi = block_key.is_in(pl.Series(shared, dtype=pl.UInt64).implode()).to_numpy()
        del block_key, ordered, shared
        raw = raw.lazy().drop("block_key").with_columns(multi=pl.Series(is_multi)).collect()
        multi_src = np.flatnonzero(is_multi)
        # Skip the read when there is nothing to read: filtering a scan still decodes it all.
        tx_hash = (
            strings_at(source, "tx_hash", multi_src)
            if len(multi_src)
            else pl.Series("tx_hash", [], pl.String)
        )
        multi = (
            raw[multi_src]
            .with_columns(tx_hash, t_h=tx_hash.hash(seed), t_h2=tx_hash.hash(seed + 1_000))
            .sort("w_h", "t_h", "block_time", "block_number", "ins_index", "inner_ins_index")
        )
        if _collides(multi):
            continue
        break
    else:
        raise HashCollisionError("address hashes collide under every seed")

    firsts = pl.concat([wallets, tokens])
    side_columns = ("wallet_address", "sold_token_address", "bought_token_address")
    sides = firsts.get_column("side")
    columns = [name for i, name in enumerate(side_columns) if i == 0 or (sides == i).any()]
    strings = rows_at(source, columns, firsts.get_column("src").to_numpy())
    names = strings.select(
        name=pl.coalesce(
            pl.when(sides == i).then(pl.col(name))
            for i, name in enumerate(side_columns)
            if name in columns
        )
    ).to_series()
    wallet_ids = _lexical_ids(wallets, names.head(wallets.height), "wallet_address")
    token_ids = _lexical_ids(tokens, names.tail(tokens.height), "token_address")
    wallet_id = (
        raw.get_column("w_h")
        .replace_strict(wallet_ids.get_column("key"), wallet_ids.get_column("id"))
        # replace_strict keeps the input's dtype (UInt64) on an empty input.
        .cast(pl.Int64)
        .alias("wallet_id")
    )
    # Lazily: an eager drop or select would copy every column into one chunk (the streaming
    # read's columns have one chunk per row group, the new ones a single chunk).
    raw = raw.lazy().with_columns(wallet_id).drop("w_h", "w_h2", "sold_h2", "bought_h2").collect()
    return (
        raw,
        wallet_ids.select(wallet_id="id", wallet_address="wallet_address"),
        token_ids.select(token_key="key", token_id="id", token_address="token_address"),
        multi.select("src", "w_h", "t_h", "tx_hash"),
    )


def _collides(keyed: pl.DataFrame) -> bool:
    """keyed is sorted by (w_h, t_h, ...): a run of one hash must have one second hash."""
    same_w = pl.col("w_h") == pl.col("w_h").shift(1)
    same_t = same_w & (pl.col("t_h") == pl.col("t_h").shift(1))
    bad = keyed.select(
        ((same_w & (pl.col("w_h2") != pl.col("w_h2").shift(1))).fill_null(False)).any()
        | ((same_t & (pl.col("t_h2") != pl.col("t_h2").shift(1))).fill_null(False)).any()
    ).item()
    return bool(bad)


def build_events(swaps: pl.LazyFrame | pl.DataFrame, quote_assets: Collection[str]) -> WindowEvents:
    """Value the swaps and build the would-be events of each (wallet, transaction).

    A swap alone in its wallet's block (the common case) is a one-swap transaction: no sort, no
    merge. Only the others are sorted and grouped by tx_hash.
    """
    lf = swaps.lazy() if isinstance(swaps, pl.DataFrame) else swaps
    source = lf.select(SWAP_COLUMNS)
    raw, wallets, tokens, multi = _keyed(source, quote_assets)
    is_multi = raw.get_column("multi").to_numpy()
    n_single = int(len(is_multi) - is_multi.sum())

    tx_first = (
        multi.select(
            ((pl.col("w_h") != pl.col("w_h").shift(1)) | (pl.col("t_h") != pl.col("t_h").shift(1)))
            .fill_null(True)
            .alias("first")
        )
        .to_series()
        .to_numpy()
    )
    multi_src = multi.get_column("src").to_numpy()
    # Swaps alone in their block are transactions numbered in input order; the transactions of
    # the multi rows come after them.
    tx_id = np.cumsum(~is_multi) - 1
    tx_id[multi_src] = np.cumsum(tx_first) - 1 + n_single
    raw = raw.with_columns(tx_id=pl.Series(tx_id))
    multi_txs = pl.DataFrame(
        {
            "tx_id": tx_id[multi_src[tx_first]],
            "tx_hash": multi.get_column("tx_hash").filter(pl.Series(tx_first)),
        }
    )
    wallet_of = raw.get_column("wallet_id")
    single = wallet_of if n_single == raw.height else wallet_of.filter(pl.Series(~is_multi))
    txs = pl.DataFrame({"wallet_id": pl.concat([single, wallet_of.gather(multi_src[tx_first])])})

    legs = pl.concat(
        [
            raw.lazy()
            .filter(~pl.col(f"{side}_quote"))
            .select(
                "wallet_id",
                "tx_id",
                "multi",
                "block_number",
                other=f"{other}_h",
                token_key=f"{side}_h",
                is_buy=pl.lit(side == "bought"),
                qty=f"{side}_amount",
                value_usd="value_usd",
                time_us=pl.col("block_time").dt.epoch("us"),
            )
            for side, other in (("sold", "bought"), ("bought", "sold"))
        ]
    )
    columns = [
        "wallet_id",
        "tx_id",
        "token_key",
        "time_us",
        "block_number",
        "tx_hash",
        "is_buy",
        "qty",
        "value_usd",
    ]
    # A single swap with the same token on both legs both buys and sells it: no event.
    direct = legs.filter(~pl.col("multi") & (pl.col("token_key") != pl.col("other"))).select(
        *columns[:5], pl.lit(None, pl.String).alias("tx_hash"), *columns[6:]
    )
    merged = (
        legs.filter(pl.col("multi"))
        .group_by("tx_id", "token_key")
        .agg(
            pl.col("wallet_id", "time_us", "block_number").first(),
            buy_legs=pl.col("is_buy").sum(),
            legs=pl.len(),
            qty=pl.col("qty").sum(),
            value=pl.col("value_usd").sum(),
            unpriced=pl.col("value_usd").null_count() > 0,
        )
        .filter((pl.col("buy_legs") == 0) | (pl.col("buy_legs") == pl.col("legs")))
        .join(multi_txs.lazy(), on="tx_id", how="left")
        .select(
            *columns[:6],
            is_buy=pl.col("buy_legs") > 0,
            qty=pl.col("qty"),
            value_usd=pl.when(pl.col("unpriced")).then(None).otherwise(pl.col("value")),
        )
    )
    would_be = (
        pl.concat([direct, merged])
        .join(tokens.lazy().select("token_key", "token_id"), on="token_key", how="left")
        .drop("token_key")
        .collect()
    )
    return WindowEvents(
        source=source,
        swaps=raw.lazy()
        .select(
            "src",
            "block_time",
            "block_number",
            "ins_index",
            "inner_ins_index",
            "sold_h",
            "bought_h",
            "sold_amount",
            "bought_amount",
            "sold_price_usd",
            "bought_price_usd",
            "value_usd",
        )
        .collect(),
        wallets=wallets,
        tokens=tokens,
        txs=txs,
        wallet_days=_wallet_days(raw, wallets.height),
        wallet_swaps=_wallet_swaps(raw, wallets.height),
        would_be=would_be,
    )


def _wallet_swaps(raw: pl.DataFrame, n_wallets: int) -> pl.DataFrame:
    """wallet_id, history_truncated, first_us, last_us over each wallet's swaps."""
    wallet = raw.get_column("wallet_id").to_numpy()
    time_us = raw.get_column("block_time").dt.epoch("us").to_numpy()
    first = np.full(n_wallets, np.iinfo(np.int64).max)
    last = np.full(n_wallets, np.iinfo(np.int64).min)
    truncated = np.zeros(n_wallets, dtype=bool)
    np.minimum.at(first, wallet, time_us)
    np.maximum.at(last, wallet, time_us)
    np.logical_or.at(
        truncated, wallet, raw.get_column("fetch_truncated").fill_null(False).to_numpy()
    )
    return pl.DataFrame(
        {
            "wallet_id": np.arange(n_wallets, dtype=np.int64),
            "history_truncated": truncated,
            "first_us": first,
            "last_us": last,
        }
    )


def _wallet_days(raw: pl.DataFrame, n_wallets: int) -> pl.DataFrame:
    """wallet_id, active_days, max_trades_per_day: a transaction counts on each UTC day it has a
    swap. Counted per (wallet, day) cell of a dense grid when that is small (windows are weeks
    long), else by group-by."""
    lazy = raw.lazy().select("wallet_id", "tx_id", "multi", day=pl.col("block_time").dt.epoch("d"))
    # One-swap transactions are one row each; multi-swap ones count once per day.
    days = pl.concat(
        [
            lazy.filter(~pl.col("multi")).select("wallet_id", "day"),
            lazy.filter(pl.col("multi")).unique(["tx_id", "day"]).select("wallet_id", "day"),
        ]
    ).collect()
    wallet = days.get_column("wallet_id").to_numpy()
    day = days.get_column("day").to_numpy()
    first_day = int(day.min()) if len(day) else 0
    span = int(day.max()) - first_day + 1 if len(day) else 1
    if n_wallets * span <= _DAY_GRID_CELLS:
        grid = np.bincount(wallet * span + (day - first_day), minlength=n_wallets * span)
        grid = grid.reshape(n_wallets, span)
        return pl.DataFrame(
            {
                "wallet_id": np.arange(n_wallets, dtype=np.int64),
                "active_days": (grid > 0).sum(axis=1).astype(np.int32),
                "max_trades_per_day": grid.max(axis=1, initial=0).astype(np.int32),
            }
        )
    return (
        days.group_by("wallet_id", "day")
        .agg(n=pl.len())
        .group_by("wallet_id")
        .agg(
            active_days=pl.len().cast(pl.Int32),
            max_trades_per_day=pl.col("n").max().cast(pl.Int32),
        )
    )
