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
    quotes = pl.Series(sorted(quote_assets), dtype=pl.String)
    sold_quote = pl.col("sold_token_address").is_in(quotes.implode())
    bought_quote = pl.col("bought_token_address").is_in(quotes.implode())
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
_SORT_CHUNK = 6


class HashCollisionError(RuntimeError):
    """Two different addresses share a 64-bit hash under every seed tried (never expected)."""


@dataclass(frozen=True)
class WindowEvents:
    """What silver needs from a window's swaps.

    Long strings are never materialized or sorted in bulk (10^7 addresses and signatures cost
    gigabytes and seconds): the input is read once into numeric columns with 64-bit hashes of
    the addresses (checked collision-free with a second, independent hash), and the few strings
    needed afterwards (one per wallet and token, tied transactions' tx_hash) are fetched by row.

    source: the swaps (needed columns, lazily) plus value_usd, for the mark-price fallback.
    swaps: per swap, sorted by (wallet, tx_hash hash, block_time, block_number, ins_index,
      inner_ins_index): wallet_id, tx_id (dense, one per (wallet, tx_hash); each transaction's rows
      are contiguous, its first row is its first swap), wallet_first, tx_first, src (the input
      row), the order columns but tx_hash, sold_h/bought_h (token keys), amounts, leg prices,
      value_usd, fetch_truncated.
    wallets: wallet_id, wallet_address, wallet_rank (lexical). tokens: token_key, token_address,
      token_rank (lexical).
    txs: one row per tx_id (row i is tx_id i): wallet_id, tx_seq (the transaction's position in
      event order, increasing within a wallet, ties of block_time and block_number broken by
      tx_hash), time_us (its first swap's block_time, epoch µs).
    would_be: one row per would-be event: wallet_id, tx_id, token_key, is_buy, qty, value_usd
      (null when unpriced).
    """

    source: pl.LazyFrame
    swaps: pl.DataFrame
    wallets: pl.DataFrame
    tokens: pl.DataFrame
    txs: pl.DataFrame
    would_be: pl.DataFrame


def strings_at(source: pl.LazyFrame, column: str, rows: np.ndarray) -> pl.Series:
    """source[column] at the given row numbers, in that order, without reading it all in."""
    wanted = pl.DataFrame({"row": rows.astype(np.int64)}).with_row_index("at")
    found = (
        source.select(column)
        .with_row_index("row")
        .filter(pl.col("row").is_in(pl.Series(rows.astype(np.int64)).implode()))
        .with_columns(pl.col("row").cast(pl.Int64))
        .collect(engine="streaming")
    )
    return wanted.join(found, on="row", how="left").sort("at").get_column(column)


def _hashes(seed: int) -> list[pl.Expr]:
    out = []
    for name, col in (
        ("w", "wallet_address"),
        ("t", "tx_hash"),
        ("sold", "sold_token_address"),
        ("bought", "bought_token_address"),
    ):
        out.append(pl.col(col).hash(seed).alias(f"{name}_h"))
        out.append(pl.col(col).hash(seed + 1_000).alias(f"{name}_h2"))
    return out


def _collides(keyed: pl.DataFrame) -> bool:
    """keyed is sorted by (w_h, t_h, ...): a run of one hash must have one second hash."""
    same_w = pl.col("w_h") == pl.col("w_h").shift(1)
    same_t = same_w & (pl.col("t_h") == pl.col("t_h").shift(1))
    bad = keyed.select(
        ((same_w & (pl.col("w_h2") != pl.col("w_h2").shift(1))).fill_null(False)).any()
        | ((same_t & (pl.col("t_h2") != pl.col("t_h2").shift(1))).fill_null(False)).any()
    ).item()
    return bool(bad)


def _token_table(keyed: pl.DataFrame, source: pl.LazyFrame) -> pl.DataFrame | None:
    """token_key, token_address, token_rank; None if two tokens share a hash."""
    legs = pl.concat(
        [
            keyed.select("src", key="sold_h", key2="sold_h2", side=pl.lit(0, pl.Int8)),
            keyed.select("src", key="bought_h", key2="bought_h2", side=pl.lit(1, pl.Int8)),
        ]
    )
    if legs.select("key", "key2").unique().height != legs.get_column("key").n_unique():
        return None
    firsts = legs[legs.select(pl.col("key").arg_unique()).to_series()]
    parts = []
    for side, column in ((0, "sold_token_address"), (1, "bought_token_address")):
        mine = firsts.filter(pl.col("side") == side)
        rows = mine.get_column("src").to_numpy()
        parts.append(mine.select(token_key="key", token_address=strings_at(source, column, rows)))
    return pl.concat(parts).with_columns(
        token_rank=pl.col("token_address").rank("ordinal").cast(pl.Int64)
    )


def _collect_sorted(lf: pl.LazyFrame, by: tuple[str, ...]) -> pl.DataFrame:
    """lf collected and sorted by `by`, a few columns at a time so that the sort never holds two
    copies of the whole frame."""
    frame = lf.collect(engine="streaming")
    order = frame.select(*by).with_row_index("i").sort(*by).get_column("i")
    parts = []
    names = frame.columns
    for start in range(0, len(names), _SORT_CHUNK):
        chunk = names[start : start + _SORT_CHUNK]
        parts.append(frame.select(chunk)[order])
        frame = frame.drop(chunk)
    return pl.concat(parts, how="horizontal")


def _hash_and_sort(
    source: pl.LazyFrame, quote_assets: Collection[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The swaps' numeric columns, address hashes and src (the input row number), sorted by
    (wallet, tx_hash) hashes then block_time, block_number, ins_index, inner_ins_index; and the
    token table."""
    quotes = pl.Series(sorted(quote_assets), dtype=pl.String).implode()
    for seed in _HASH_SEEDS:
        keyed = _collect_sorted(
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
                "value_usd",
                *_hashes(seed),
                sold_quote=pl.col("sold_token_address").is_in(quotes),
                bought_quote=pl.col("bought_token_address").is_in(quotes),
            ).with_row_index("src"),
            ("w_h", "t_h", "block_time", "block_number", "ins_index", "inner_ins_index"),
        )
        tokens = _token_table(keyed, source)
        if tokens is not None and not _collides(keyed):
            return keyed, tokens
    raise HashCollisionError("address hashes collide under every seed")


def build_events(swaps: pl.LazyFrame | pl.DataFrame, quote_assets: Collection[str]) -> WindowEvents:
    """Value the swaps and build the would-be events of each (wallet, transaction)."""
    lf = swaps.lazy() if isinstance(swaps, pl.DataFrame) else swaps
    source = lf.select(SWAP_COLUMNS).with_columns(value_usd=swap_value_usd(quote_assets))
    keyed, tokens = _hash_and_sort(source, quote_assets)
    keyed = (
        keyed.with_columns(
            wallet_first=(pl.col("w_h") != pl.col("w_h").shift(1)).fill_null(True),
        )
        .with_columns(
            tx_first=pl.col("wallet_first")
            | (pl.col("t_h") != pl.col("t_h").shift(1)).fill_null(True),
        )
        .with_columns(
            wallet_id=pl.col("wallet_first").cum_sum().cast(pl.Int64) - 1,
            tx_id=pl.col("tx_first").cum_sum().cast(pl.Int64) - 1,
        )
    )
    source_row = keyed.get_column("src").to_numpy()
    wallet_rows = np.flatnonzero(keyed.get_column("wallet_first").to_numpy())
    wallets = pl.DataFrame(
        {"wallet_address": strings_at(source, "wallet_address", source_row[wallet_rows])}
    ).select(
        wallet_id=pl.int_range(pl.len(), dtype=pl.Int64),
        wallet_address="wallet_address",
        wallet_rank=pl.col("wallet_address").rank("ordinal").cast(pl.Int64),
    )
    txs = _transactions(keyed, source, source_row)

    n_swaps = keyed.height
    first_rows = np.flatnonzero(keyed.get_column("tx_first").to_numpy())
    tx_sizes = np.diff(np.append(first_rows, n_swaps))
    # A single-swap transaction with two distinct tokens needs no merging: each non-quote leg is
    # its own event. Everything else goes through the group-by.
    single = pl.Series(tx_sizes == 1).gather(keyed.get_column("tx_id")) & (
        keyed.get_column("sold_h") != keyed.get_column("bought_h")
    )
    with_single = keyed.with_columns(single=single)
    legs = pl.concat(
        [
            with_single.filter(~pl.col("sold_quote")).select(
                "wallet_id",
                "tx_id",
                "single",
                token_key="sold_h",
                is_buy=pl.lit(False),
                qty="sold_amount",
                value_usd="value_usd",
            ),
            with_single.filter(~pl.col("bought_quote")).select(
                "wallet_id",
                "tx_id",
                "single",
                token_key="bought_h",
                is_buy=pl.lit(True),
                qty="bought_amount",
                value_usd="value_usd",
            ),
        ]
    )
    direct = legs.filter(pl.col("single")).drop("single")
    merged = (
        legs.filter(~pl.col("single"))
        .group_by("tx_id", "token_key")
        .agg(
            pl.col("wallet_id").first(),
            buy_legs=pl.col("is_buy").sum(),
            legs=pl.len(),
            qty=pl.col("qty").sum(),
            value=pl.col("value_usd").sum(),
            unpriced=pl.col("value_usd").null_count() > 0,
        )
        .filter((pl.col("buy_legs") == 0) | (pl.col("buy_legs") == pl.col("legs")))
        .select(
            "wallet_id",
            "tx_id",
            "token_key",
            is_buy=pl.col("buy_legs") > 0,
            qty=pl.col("qty"),
            value_usd=pl.when(pl.col("unpriced")).then(None).otherwise(pl.col("value")),
        )
    )
    would_be = pl.concat([direct, merged.select(direct.columns)])
    return WindowEvents(
        source=source,
        swaps=keyed.select(
            "wallet_id",
            "tx_id",
            "wallet_first",
            "tx_first",
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
            "fetch_truncated",
        ),
        wallets=wallets,
        tokens=tokens,
        txs=txs,
        would_be=would_be,
    )


def _transactions(
    keyed: pl.DataFrame, source: pl.LazyFrame, source_row: np.ndarray
) -> pl.DataFrame:
    """wallet_id, time_us, tx_seq per tx_id (see WindowEvents)."""
    first_rows = np.flatnonzero(keyed.get_column("tx_first").to_numpy())
    txs = keyed[first_rows].select(
        "wallet_id", "block_number", time_us=pl.col("block_time").dt.epoch("us")
    )
    perm = (
        txs.select(pl.arg_sort_by("wallet_id", "time_us", "block_number"))
        .to_series()
        .to_numpy()
        .copy()
    )
    ordered = txs[perm]
    same = (
        ordered.select(
            (pl.col("wallet_id") == pl.col("wallet_id").shift(1))
            & (pl.col("time_us") == pl.col("time_us").shift(1))
            & (pl.col("block_number") == pl.col("block_number").shift(1))
        )
        .to_series()
        .fill_null(False)
        .to_numpy()
    )
    tied = same.copy()
    tied[:-1] |= same[1:]
    positions = np.flatnonzero(tied)
    if len(positions):
        # Same wallet, block_time and slot: order those transactions by tx_hash (lexical).
        members = perm[positions]
        sub = ordered[positions].with_columns(
            tx_hash=strings_at(source, "tx_hash", source_row[first_rows[members]])
        )
        sub_order = (
            sub.select(pl.arg_sort_by("wallet_id", "time_us", "block_number", "tx_hash"))
            .to_series()
            .to_numpy()
        )
        perm[positions] = members[sub_order]
    tx_seq = np.empty(txs.height, dtype=np.int64)
    tx_seq[perm] = np.arange(txs.height, dtype=np.int64)
    return txs.select("wallet_id", "time_us", tx_seq=pl.Series(tx_seq))
