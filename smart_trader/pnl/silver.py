"""Silver assembly (DATA_CONTRACT.md, silver/wallet_token_pnl and silver/wallet_pnl): a window's
swaps in, the two tables out. Events (pnl.events) go through the FIFO kernel (pnl.fifo) in event
order; marks (pnl.marks) value what stays open; the per-token rows sum into per-wallet rows, with
the skill test over per-token returns (pnl.skill). Pure polars/numpy, vectorized.

Swaps of a non-trade source (liquid-staking deposits reported as swaps) are dropped first: they
count in no column. Transaction counts (per wallet): swap_count = distinct tx_hash with any swap;
trade_count = distinct tx_hash with at least one (priced) event; unpriced_trade_count = distinct
tx_hash that give at least one would-be event and all of whose would-be events are unpriced (a
transaction with one priced event is a trade, not unpriced). A wallet with swaps but no events
still gets a row: zero counts and sums, null ratios. first/last_trade_at: over every swap in
wallet_pnl, over the pair's events (each at its transaction's first swap) in wallet_token_pnl.
active_days and max_trades_per_day count UTC days of block_time (a transaction counts on each day
it has a swap).
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import polars as pl

from smart_trader import schemas
from smart_trader.pnl.events import WindowEvents, build_events
from smart_trader.pnl.fifo import fifo_all_pairs
from smart_trader.pnl.marks import mark_prices
from smart_trader.pnl.segments import I64
from smart_trader.pnl.skill import is_profitable, is_realized, skill_p_values, token_return

_KEY_BITS = 63


def wallet_ratios() -> dict[str, pl.Expr]:
    """wallet_pnl's columns derived from its own sums (null where the denominator is 0)."""
    c = pl.col
    cost = c("cost_basis_sold_usd")
    invested = c("open_cost_usd") + cost
    return {
        "total_pnl_usd": c("realized_pnl_usd") + c("unrealized_pnl_usd"),
        "roi_pct": pl.when(cost != 0).then(c("realized_pnl_usd") / cost * 100),
        "win_rate_pct": pl.when(c("matched_sell_count") != 0).then(
            c("winning_sell_count") / c("matched_sell_count") * 100
        ),
        "open_cost_share": pl.when(invested != 0).then(c("open_cost_usd") / invested),
    }


def _in_event_order(events: pl.DataFrame, pair_code: I64) -> pl.DataFrame:
    """pair_code, time_us, is_buy, qty, value_usd of the events (WindowEvents.would_be), sorted
    by (pair_code, time_us, block_number, tx_hash): each pair contiguous and in event order.

    Ids are in lexical order, so the pairs come out sorted by (wallet, token). One sort on a
    single 63-bit key, the pair code above the time since the window's start (its low bits
    dropped if both do not fit), is much faster than a sort on four columns; rows equal on that
    key are then ordered by all four. In a pair those are events of one block (or, with the low
    bits dropped, close in time), which are rare. Sorting the frame gathers its columns in
    parallel.
    """
    time_us = events.get_column("time_us").to_numpy()
    frame = events.select("time_us", "is_buy", "qty", "value_usd", pair_code=pl.Series(pair_code))
    # Pair codes (wallets x tokens) fit in 63 bits with room to spare; time takes what is left.
    pair_bits = int(pair_code.max()).bit_length() if len(pair_code) else 0
    since = time_us - time_us.min() if len(time_us) else time_us
    time_bits = _KEY_BITS - pair_bits
    drop = max(int(since.max()).bit_length() - time_bits, 0) if len(since) else 0
    key = (pair_code << time_bits) | (since >> drop)
    ordered = frame.with_columns(key=pl.Series(key), event=pl.int_range(len(key))).sort("key")
    sorted_key = ordered.get_column("key").to_numpy()
    equal = sorted_key[1:] == sorted_key[:-1]
    if not equal.any():
        return ordered.drop("key", "event")
    tied = np.zeros(len(sorted_key), dtype=bool)
    tied[1:] |= equal
    tied[:-1] |= equal
    rows = np.flatnonzero(tied)
    # Tied rows form runs of one key; sorting them by the key first keeps each run in place.
    sub = ordered[rows].select("key", "time_us", "event")
    sub_events = sub.get_column("event").to_numpy()
    sub_order = (
        sub.hstack(events[sub_events].select("block_number", "tx_hash"))
        .select(pl.arg_sort_by("key", "time_us", "block_number", "tx_hash"))
        .to_series()
        .to_numpy()
    )
    permutation = np.arange(len(sorted_key), dtype=np.int64)
    permutation[rows] = rows[sub_order]
    return ordered[permutation].drop("key", "event")


def _timestamp(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col), time_unit="us").dt.replace_time_zone("UTC")


def _transaction_counts(we: WindowEvents) -> pl.DataFrame:
    """wallet_id, trade_count, unpriced_trade_count (see the module docstring)."""
    n_txs = we.txs.height
    tx_wallet = we.txs.get_column("wallet_id").to_numpy()
    n_wallets = we.wallets.height
    tx_ids = we.would_be.get_column("tx_id").to_numpy()
    priced = we.would_be.get_column("value_usd").is_not_null().to_numpy()
    gives_event = np.zeros(n_txs, dtype=bool)
    gives_event[tx_ids] = True
    is_trade = np.zeros(n_txs, dtype=bool)
    is_trade[tx_ids[priced]] = True
    return pl.DataFrame(
        {
            "wallet_id": np.arange(n_wallets, dtype=np.int64),
            "trade_count": np.bincount(tx_wallet, weights=is_trade, minlength=n_wallets),
            "unpriced_trade_count": np.bincount(
                tx_wallet, weights=gives_event & ~is_trade, minlength=n_wallets
            ),
        }
    ).cast({"trade_count": pl.Int64, "unpriced_trade_count": pl.Int64})


def compute_silver(
    swaps: pl.LazyFrame | pl.DataFrame,
    *,
    as_of_date: date,
    quote_assets: Collection[str],
    non_trade_sources: Collection[str],
    metric_prices: pl.DataFrame,
    api_prices: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(wallet_token_pnl, wallet_pnl) of day `as_of_date` from the window's swaps.

    swaps: rows with bronze/transaction_history's columns (extra columns are ignored), already
    restricted to the wallets and the time range wanted: for silver(D), the wallets tracked on D
    and the lookback window. Swaps whose `source` is in non_trade_sources are dropped.
    metric_prices (token_metrics(D)) and api_prices (token_prices(D)) each have token_address
    and price_usd, and either may be empty: the marks fall back to the swaps' own prices. Both
    results are conformed to the contract, sorted by wallet_address (then token_address). A
    LazyFrame is read more than once (numbers first, then the few strings needed, by row
    number), so it must yield its rows in the same order every time, as a scan of Parquet or
    Delta files does.
    """
    trades = swaps.lazy().filter(pl.col("source").is_in(sorted(non_trade_sources)).not_())
    we = build_events(trades, quote_assets)
    wallets = we.wallets
    tokens = we.tokens
    events = we.would_be.filter(pl.col("value_usd").is_not_null())
    token_id = events.get_column("token_id").to_numpy()
    pair_tokens = tokens.filter(pl.Series(np.bincount(token_id, minlength=tokens.height) > 0))
    # The marks run beside the wallet tables and the event sort, which leave a core idle much
    # of the time.
    pool = ThreadPoolExecutor(1)
    pair_marks = pool.submit(
        mark_prices, pair_tokens, we, metric_prices=metric_prices, api_prices=api_prices
    )
    pool.shutdown(wait=False)
    tx_counts = _transaction_counts(we)
    swap_count = np.bincount(we.txs.get_column("wallet_id").to_numpy(), minlength=wallets.height)
    swap_table = (
        wallets.with_columns(swap_count=pl.Series(swap_count, dtype=pl.Int64))
        .join(we.wallet_swaps, on="wallet_id", how="left")
        .join(we.wallet_days, on="wallet_id", how="left")
        .with_columns(first_trade_at=_timestamp("first_us"), last_trade_at=_timestamp("last_us"))
    )
    pair_code = events.get_column("wallet_id").to_numpy() * max(tokens.height, 1) + token_id
    ordered = _in_event_order(events, pair_code)
    pair_code = ordered.get_column("pair_code").to_numpy()
    time_us = ordered.get_column("time_us").to_numpy()
    is_buy = ordered.get_column("is_buy").to_numpy()
    qty = ordered.get_column("qty").to_numpy()
    value = ordered.get_column("value_usd").to_numpy()
    pair_first = np.ones(len(pair_code), dtype=bool)
    pair_first[1:] = pair_code[1:] != pair_code[:-1]
    marks = pair_tokens.join(pair_marks.result(), on="token_address", how="left")
    # Free the per-swap frames before the FIFO's working arrays are allocated.
    del we, events, token_id, ordered, pair_marks
    fifo = fifo_all_pairs(pair_first, is_buy, qty, value, time_us)
    codes = pair_code[pair_first]
    pair_wallet = codes // max(tokens.height, 1)
    pair_token = codes % max(tokens.height, 1)
    del pair_first, is_buy, qty, value, time_us, pair_code
    token_pnl = (
        pl.DataFrame(
            {
                "wallet_id": pair_wallet,
                "wallet_address": wallets.get_column("wallet_address").gather(pair_wallet),
                "token_id": pair_token,
                "token_address": tokens.get_column("token_address").gather(pair_token),
                **fifo,
            }
        )
        .join(marks.drop("token_address"), on="token_id", how="left", maintain_order="left")
        .with_columns(open_qty=pl.col("bought_qty") - pl.col("matched_qty"))
        .with_columns(
            as_of_date=pl.lit(as_of_date, dtype=pl.Date),
            unrealized_pnl_usd=pl.col("open_qty") * pl.col("mark_price_usd")
            - pl.col("open_cost_usd"),
            avg_hold_seconds=pl.when(pl.col("cost_basis_sold_usd") != 0).then(
                pl.col("hold_numerator") / pl.col("cost_basis_sold_usd")
            ),
            first_trade_at=_timestamp("first_us"),
            last_trade_at=_timestamp("last_us"),
        )
    )
    del fifo

    skill = skill_p_values(
        token_pnl.lazy().filter(is_realized()).select("wallet_id", r=token_return()).collect()
    )
    sums = ("bought_usd", "sold_usd", "cost_basis_sold_usd", "unmatched_sell_usd")
    counts = ("buy_count", "sell_count", "matched_sell_count", "winning_sell_count")
    money = (*sums, "open_cost_usd", "realized_pnl_usd", "unrealized_pnl_usd", "hold_numerator")
    per_wallet_tokens = token_pnl.group_by("wallet_id").agg(
        *(pl.col(c).sum() for c in (*counts, *money)),
        tokens_traded=pl.len().cast(pl.Int64),
        tokens_realized=is_realized().sum().cast(pl.Int64),
        tokens_profitable=is_profitable().sum().cast(pl.Int64),
        best_token_realized_pnl_usd=pl.col("realized_pnl_usd").max(),
    )
    tokens_counted = ("tokens_traded", "tokens_realized", "tokens_profitable")
    zero_fill = [pl.col(c).fill_null(0) for c in (*tokens_counted, *counts)] + [
        pl.col(c).fill_null(0.0) for c in money
    ]
    cost_basis = pl.col("cost_basis_sold_usd")
    wallet_pnl = (
        swap_table.join(tx_counts, on="wallet_id", how="left")
        .join(per_wallet_tokens, on="wallet_id", how="left")
        .join(skill, on="wallet_id", how="left")
        .with_columns(*zero_fill)
        .with_columns(
            **wallet_ratios(),
            as_of_date=pl.lit(as_of_date, dtype=pl.Date),
            avg_hold_seconds=pl.when(cost_basis != 0).then(pl.col("hold_numerator") / cost_basis),
        )
        .sort("wallet_id")
    )
    return (
        schemas.conform(token_pnl, schemas.WALLET_TOKEN_PNL),
        schemas.conform(wallet_pnl, schemas.WALLET_PNL),
    )
