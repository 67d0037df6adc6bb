"""Silver: FIFO PnL per (wallet, token) and per wallet (DATA_CONTRACT.md, silver/wallet_token_pnl
and silver/wallet_pnl). Pure polars/numpy, vectorized: no Python loop over events or pairs.

FIFO as interval overlap. Per (wallet, token), in event order, the open quantity is the
contract's reflected cumulative sum open_k = C_k - min(0, min_(j<=k) C_j), C the signed
cumulative quantity, and a SELL's matched quantity is open_(k-1) - open_k (the rest of it is
unmatched). Lot j occupies [B_(j-1), B_j) on the cumulative-bought axis and SELL k's matched part
[Q_(k-1), Q_k) on the same axis (Q: cumulative matched); Q_k <= B_k, so a sell only overlaps
earlier lots, and consuming the oldest lots first is exactly that overlap. Sorting both kinds of
boundaries cuts the axis into pieces that each lie in one lot and one sell: O(n log n) overall,
O(n) pieces; every money figure is a sum of per-piece products (m*c, m*(p - c), m*c*dt).

Numerics: float64; cumulative sums only within a pair (segments.Segments scans each pair on its
own), and restarted wherever the position goes flat after a sell (episodes, see _episodes), so
that the residue of a sum stays relative to the quantities still in play: a 10^12 airdrop sold
unmatched cannot swamp a later 1.2345-token round trip.

Counts (dust rule, epsilon = 1e-9): a SELL counts in matched_sell_count iff its matched quantity
> epsilon * B (B: the pair's bought quantity so far), and in winning_sell_count iff also its
realized PnL > epsilon * its matched cost basis.

Transaction counts (per wallet): swap_count = distinct tx_hash with any swap; trade_count =
distinct tx_hash with at least one (priced) event; unpriced_trade_count = distinct tx_hash that
give at least one would-be event and all of whose would-be events are unpriced (a transaction with
one priced event is a trade, not unpriced). A wallet with swaps but no events still gets a row:
zero counts and sums, null ratios. first/last_trade_at: over every swap in wallet_pnl, over the
pair's events (each at its transaction's first swap) in wallet_token_pnl. active_days and
max_trades_per_day count UTC days of block_time (a transaction counts on each day it has a swap).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from smart_trader import schemas
from smart_trader.pnl.events import WindowEvents, build_events
from smart_trader.pnl.marks import mark_prices
from smart_trader.pnl.segments import F64, I64, Bools, Segments

DUST_EPSILON = 1e-9
_US_PER_SECOND = 1_000_000.0
_MAX_EPISODE_PASSES = 8


def _episodes(pairs: Segments, is_buy: Bools, signed: F64) -> tuple[Segments, F64, Bools]:
    """Split each pair into episodes that end where the position is flat after a SELL.

    After a flat point the past no longer matters, and restarting the cumulative sums there keeps
    their residue relative to the episode's own quantities: a huge earlier oversell (tokens that
    came by transfer) would otherwise swamp later small trades. Whether a sell leaves the
    position flat is read off the current episodes' sums, so this repeats until the split is
    stable (two or three passes; each only refines near-exact closings). Returns the episodes,
    the open quantity after each event, and whether each event leaves the position flat.
    """
    starts = pairs.first_mask
    episodes = pairs
    for attempt in range(_MAX_EPISODE_PASSES):
        if attempt:
            episodes = Segments.from_first_mask(starts)
        c = episodes.cumsum(signed)
        low = np.minimum(episodes.cummin(c), 0.0)
        flat = ~is_buy & (c <= low)
        new_starts = pairs.first_mask.copy()
        new_starts[1:] |= flat[:-1]
        if np.array_equal(new_starts, starts) or attempt == _MAX_EPISODE_PASSES - 1:
            break
        starts = new_starts
    # open_k = C_k - min(0, min_(j<=k) C_j), C the episode's signed cumulative quantity.
    return episodes, np.maximum(c - low, 0.0), flat


def _points_order(episode: I64, x: F64, kind: npt.NDArray[np.int8]) -> I64:
    order = pl.DataFrame({"e": episode, "x": x, "k": kind}).select(pl.arg_sort_by("e", "x", "k"))
    return order.to_series().to_numpy().astype(np.int64)


def fifo_pairs(
    pair_first: Bools, is_buy: Bools, qty: F64, value: F64, time_us: I64
) -> dict[str, np.ndarray]:
    """FIFO of every pair at once (see the module docstring).

    Arrays over the events, pairs contiguous and in event order inside a pair (pair_first marks
    each pair's first event). Returns, per pair, every summed column of wallet_token_pnl plus
    open_cost_usd, hold_numerator (USD x seconds), first_us and last_us.
    """
    n = len(qty)
    pairs = Segments.from_first_mask(pair_first)
    price = value / qty
    bq = np.where(is_buy, qty, 0.0)
    signed = np.where(is_buy, qty, -qty)
    cum_b = pairs.cumsum(bq)
    episodes, open_after, flat = _episodes(pairs, is_buy, signed)
    matched = np.where(is_buy, 0.0, np.clip(episodes.previous(open_after) - open_after, 0.0, qty))
    unmatched = np.where(is_buy, 0.0, np.maximum(qty - matched, 0.0))
    b_ep = episodes.cumsum(bq)
    b_prev = episodes.previous(b_ep)
    q_ep = episodes.cumsum(matched)
    q_prev = episodes.previous(q_ep)
    ep_id = episodes.ids()
    q_end_ep = q_ep[episodes.lasts] if n else np.zeros(0)
    q_end = q_end_ep[ep_id]

    # Lots occupy [b_prev, b_ep) and a sell's matched part [q_prev, q_ep) on the episode's
    # quantity axis; consecutive boundaries cut it into pieces in one lot and one sell each.
    lots = np.flatnonzero(is_buy)
    sells = np.flatnonzero(matched > 0)
    ends = np.flatnonzero(q_end_ep > 0)
    p_episode = np.concatenate([ep_id[lots], ep_id[sells], ends])
    p_x = np.concatenate([b_prev[lots], q_prev[sells], q_end_ep[ends]])
    p_kind = np.concatenate(
        [np.zeros(len(lots), np.int8), np.ones(len(sells), np.int8), np.full(len(ends), 2, np.int8)]
    )
    p_lot = np.concatenate([lots, np.full(len(sells) + len(ends), -1, np.int64)])
    p_sell = np.concatenate(
        [np.full(len(lots), -1, np.int64), sells, np.full(len(ends), -1, np.int64)]
    )
    order = _points_order(p_episode, p_x, p_kind)
    del p_kind, lots, sells, ends
    p_episode, p_x = p_episode[order], p_x[order]
    # Lot and sell rows both increase along the sorted points: a running max forward-fills.
    p_lot = np.maximum.accumulate(p_lot[order]) if len(order) else p_lot
    p_sell = np.maximum.accumulate(p_sell[order]) if len(order) else p_sell
    p_end = q_end_ep[p_episode]
    x_next = np.append(p_x[1:], np.inf)
    piece = (p_x < p_end) & (p_sell >= episodes.starts[p_episode])
    lot_of, sell_of = p_lot[piece], p_sell[piece]
    m = np.minimum(x_next[piece], p_end[piece]) - p_x[piece]
    del order, p_episode, p_x, p_lot, p_sell, p_end, x_next, piece
    c = price[lot_of]
    piece_cost = m * c
    dt = (time_us[sell_of] - time_us[lot_of]).astype(np.float64) / _US_PER_SECOND
    cost = np.bincount(sell_of, weights=piece_cost, minlength=n)
    realized = np.bincount(sell_of, weights=m * (price[sell_of] - c), minlength=n)
    hold = np.bincount(sell_of, weights=piece_cost * dt, minlength=n)

    # What is left of lot j: the part of [b_prev, b_ep) above the episode's final matched
    # quantity; nothing once the episode closed flat.
    closed = flat[episodes.lasts][ep_id] if n else np.zeros(0, dtype=bool)
    left = np.where(is_buy & ~closed, np.maximum(b_ep - np.maximum(b_prev, q_end), 0.0), 0.0)
    counted = ~is_buy & (matched > DUST_EPSILON * cum_b)
    winning = counted & (realized > DUST_EPSILON * cost)
    sold = ~is_buy
    return {
        "buy_count": pairs.counts(is_buy),
        "sell_count": pairs.counts(sold),
        "bought_qty": pairs.sums(bq),
        "sold_qty": pairs.sums(np.where(sold, qty, 0.0)),
        "bought_usd": pairs.sums(np.where(is_buy, value, 0.0)),
        "sold_usd": pairs.sums(np.where(sold, value, 0.0)),
        "matched_qty": pairs.sums(matched),
        "unmatched_sell_qty": pairs.sums(unmatched),
        "unmatched_sell_usd": pairs.sums(unmatched * price),
        "cost_basis_sold_usd": pairs.sums(cost),
        "realized_pnl_usd": pairs.sums(realized),
        "matched_sell_count": pairs.counts(counted),
        "winning_sell_count": pairs.counts(winning),
        "open_cost_usd": pairs.sums(left * price),
        "hold_numerator": pairs.sums(hold),
        "first_us": np.minimum.reduceat(time_us, pairs.starts) if n else time_us,
        "last_us": np.maximum.reduceat(time_us, pairs.starts) if n else time_us,
    }


def _timestamp(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col), time_unit="us").dt.replace_time_zone("UTC")


def _wallet_swap_table(we: WindowEvents) -> pl.DataFrame:
    """Per wallet, over every swap: swap_count, active_days, max_trades_per_day, truncation,
    first/last swap time (swaps are sorted by wallet)."""
    swaps = we.swaps
    day = pl.col("block_time").dt.date()
    # Rows of a transaction are contiguous and sorted by block_time: each (tx, day) starts a run.
    tx_days = (
        swaps.select("wallet_id", "tx_first", day=day)
        .filter(pl.col("tx_first") | (pl.col("day") != pl.col("day").shift(1)).fill_null(True))
        .group_by("wallet_id", "day")
        .agg(n=pl.len())
        .group_by("wallet_id")
        .agg(
            active_days=pl.len().cast(pl.Int32),
            max_trades_per_day=pl.col("n").max().cast(pl.Int32),
        )
    )
    starts = np.flatnonzero(swaps.get_column("wallet_first").to_numpy())
    time_us = swaps.get_column("block_time").dt.epoch("us").to_numpy()
    n = swaps.height
    per_wallet = pl.DataFrame(
        {
            "wallet_id": np.arange(len(starts), dtype=np.int64),
            "swap_count": np.add.reduceat(swaps.get_column("tx_first").to_numpy(), starts)
            if n
            else np.zeros(0, np.int64),
            "history_truncated": np.logical_or.reduceat(
                swaps.get_column("fetch_truncated").to_numpy(), starts
            )
            if n
            else np.zeros(0, bool),
            "first_us": np.minimum.reduceat(time_us, starts) if n else time_us,
            "last_us": np.maximum.reduceat(time_us, starts) if n else time_us,
        },
        schema_overrides={"swap_count": pl.Int64},
    )
    return per_wallet.join(tx_days, on="wallet_id", how="left").with_columns(
        first_trade_at=_timestamp("first_us"), last_trade_at=_timestamp("last_us")
    )


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
    metric_prices: pl.DataFrame,
    api_prices: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(wallet_token_pnl, wallet_pnl) of day `as_of_date` from the window's swaps.

    swaps: bronze/transaction_history rows already restricted to the wallets tracked on D and to
    block_time in the window (extra columns are ignored). metric_prices: token_metrics(D) and
    api_prices: token_prices(D), each with token_address and price_usd. Both results are
    conformed to the contract, sorted by wallet_address (then token_address). A LazyFrame is
    read more than once (numbers first, then the few strings needed, by row number), so it must
    yield its rows in the same order every time, as a scan of Parquet or Delta files does.
    """
    we = build_events(swaps, quote_assets)
    wallets = we.wallets
    tx_counts = _transaction_counts(we)
    swap_table = _wallet_swap_table(we)
    tx_seq = we.txs.get_column("tx_seq")
    tx_time = we.txs.get_column("time_us")
    events = we.would_be.filter(pl.col("value_usd").is_not_null())
    event_tx = events.get_column("tx_id")
    # tx_seq is wallet-major, so sorting by (token, tx_seq) makes each pair contiguous, in order.
    events = (
        events.select("wallet_id", "token_key", "is_buy", "qty", "value_usd")
        .with_columns(tx_seq=tx_seq.gather(event_tx), time_us=tx_time.gather(event_tx))
        .sort("token_key", "tx_seq")
        .with_columns(
            pair_first=(
                (pl.col("token_key") != pl.col("token_key").shift(1))
                | (pl.col("wallet_id") != pl.col("wallet_id").shift(1))
            ).fill_null(True)
        )
    )
    pair_tokens = (
        events.select(pl.col("token_key").unique())
        .join(we.tokens, on="token_key", how="left")
        .select("token_key", "token_address")
    )
    marks = mark_prices(pair_tokens, we, metric_prices=metric_prices, api_prices=api_prices).join(
        pair_tokens, on="token_address", how="left"
    )
    tokens = we.tokens
    # Free the per-swap frames before the FIFO's working arrays are allocated.
    del we, tx_seq, tx_time, event_tx
    fifo = fifo_pairs(
        events.get_column("pair_first").to_numpy(),
        events.get_column("is_buy").to_numpy(),
        events.get_column("qty").to_numpy(),
        events.get_column("value_usd").to_numpy(),
        events.get_column("time_us").to_numpy(),
    )
    pairs = (
        events.filter(pl.col("pair_first"))
        .select("wallet_id", "token_key")
        .with_columns(**{name: pl.Series(values) for name, values in fifo.items()})
        .join(tokens, on="token_key", how="left")
        .join(wallets, on="wallet_id", how="left")
    )
    del events, fifo
    token_pnl = (
        pairs.join(marks.drop("token_address"), on="token_key", how="left")
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
        .sort("wallet_rank", "token_rank")
    )

    sums = ("bought_usd", "sold_usd", "cost_basis_sold_usd", "unmatched_sell_usd")
    counts = ("buy_count", "sell_count", "matched_sell_count", "winning_sell_count")
    per_wallet_tokens = token_pnl.group_by("wallet_id").agg(
        *(pl.col(c).sum() for c in (*counts, *sums)),
        tokens_traded=pl.len().cast(pl.Int64),
        tokens_realized=(pl.col("matched_sell_count") > 0).sum().cast(pl.Int64),
        realized_pnl_usd=pl.col("realized_pnl_usd").sum(),
        unrealized_pnl_usd=pl.col("unrealized_pnl_usd").sum(),
        best_token_realized_pnl_usd=pl.col("realized_pnl_usd").max(),
        hold_numerator=pl.col("hold_numerator").sum(),
    )
    zero_fill = [pl.col(c).fill_null(0) for c in ("tokens_traded", "tokens_realized", *counts)] + [
        pl.col(c).fill_null(0.0)
        for c in (*sums, "realized_pnl_usd", "unrealized_pnl_usd", "hold_numerator")
    ]
    cost_basis = pl.col("cost_basis_sold_usd")
    wallet_pnl = (
        swap_table.join(wallets, on="wallet_id", how="left")
        .join(tx_counts, on="wallet_id", how="left")
        .join(per_wallet_tokens, on="wallet_id", how="left")
        .with_columns(*zero_fill)
        .with_columns(
            as_of_date=pl.lit(as_of_date, dtype=pl.Date),
            total_pnl_usd=pl.col("realized_pnl_usd") + pl.col("unrealized_pnl_usd"),
            roi_pct=pl.when(cost_basis != 0).then(pl.col("realized_pnl_usd") / cost_basis * 100),
            win_rate_pct=pl.when(pl.col("matched_sell_count") != 0).then(
                pl.col("winning_sell_count") / pl.col("matched_sell_count") * 100
            ),
            avg_hold_seconds=pl.when(cost_basis != 0).then(pl.col("hold_numerator") / cost_basis),
        )
        .sort("wallet_rank")
    )
    return (
        schemas.conform(token_pnl, schemas.WALLET_TOKEN_PNL),
        schemas.conform(wallet_pnl, schemas.WALLET_PNL),
    )
