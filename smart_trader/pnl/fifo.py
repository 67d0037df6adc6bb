"""Silver: FIFO PnL per (wallet, token) and per wallet (DATA_CONTRACT.md, silver/wallet_token_pnl
and silver/wallet_pnl). Pure polars/numpy, vectorized: no Python loop over events or pairs.

FIFO as interval overlap. Per (wallet, token), in event order, the open quantity is the
contract's reflected cumulative sum open_k = C_k - min(0, min_(j<=k) C_j), C the signed
cumulative quantity, and a SELL's matched quantity is open_(k-1) - open_k (the rest of it is
unmatched). Lot j occupies [B_(j-1), B_j) on the cumulative-bought axis and SELL k's matched part
[Q_(k-1), Q_k) on the same axis (Q: cumulative matched); Q_k <= B_k, so a sell only overlaps
earlier lots, and consuming the oldest lots first is exactly that overlap. Both kinds of
boundaries are sorted already, so one binary search per sell end finds the lots it covers, and
those overlaps are pieces that each lie in one lot and one sell: O(n log n) overall, O(n)
pieces; every money figure is a sum of per-piece products (m*c, m*(p - c), m*c*dt).

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
from concurrent.futures import ThreadPoolExecutor
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
# numpy releases the GIL in its array loops: pairs are independent, so two threads (this machine's
# cores) run the FIFO of chunks of pairs.
_FIFO_THREADS = 2
_CHUNK_EVENTS = 1 << 16
_KEY_BITS = 63


def _episodes(pairs: Segments, is_buy: Bools, signed: F64) -> tuple[Bools, F64, Bools]:
    """Split each pair into episodes that end where the position is flat after a SELL.

    After a flat point the past no longer matters, and restarting the cumulative sums there keeps
    their residue relative to the episode's own quantities: a huge earlier oversell (tokens that
    came by transfer) would otherwise swamp later small trades. Whether a sell leaves the
    position flat is read off the current episodes' sums, so this repeats until the split is
    stable (two or three passes; each only refines near-exact closings). Arrays are laid out
    (Segments.lay). Returns where each episode starts, the open quantity after each event, and
    whether each event leaves the position flat.
    """
    restart = pairs.first
    for attempt in range(_MAX_EPISODE_PASSES):
        c = pairs.cumsum(signed, restart)
        low = np.minimum(pairs.cummin(c, restart), 0.0)
        flat = ~is_buy & (c <= low)
        new_restart = pairs.first | pairs.previous(flat)
        if np.array_equal(new_restart, restart) or attempt == _MAX_EPISODE_PASSES - 1:
            break
        restart = new_restart
    # open_k = C_k - min(0, min_(j<=k) C_j), C the episode's signed cumulative quantity.
    return restart, np.maximum(c - low, 0.0), flat


def _before(values: F64, first: Bools) -> F64:
    """Each element's predecessor, 0 where `first` (arrays in segment order)."""
    out = np.empty_like(values)
    out[1:] = values[:-1]
    out[first] = 0.0
    return out


def _keys(episode: I64, x: F64) -> npt.NDArray[np.complex128]:
    """(episode, x) as complex numbers, which numpy orders lexicographically (real part first):
    an exact two-part key for one binary search, no arithmetic on x."""
    keys = np.empty(len(x), dtype=np.complex128)
    keys.real = episode
    keys.imag = x
    return keys


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
    # The scans run in the segments' layout; the results come back in event order.
    buy_l, qty_l, bq_l = pairs.lay(is_buy), pairs.lay(qty), pairs.lay(bq)
    restart, open_after, flat_l = _episodes(pairs, buy_l, np.where(buy_l, qty_l, -qty_l))
    open_before = np.where(restart, 0.0, pairs.previous(open_after))
    matched_l = np.where(buy_l, 0.0, np.clip(open_before - open_after, 0.0, qty_l))
    counted = pairs.unlay(~buy_l & (matched_l > DUST_EPSILON * pairs.cumsum(bq_l)))
    b_ep = pairs.unlay(pairs.cumsum(bq_l, restart))
    # Matched so far never exceeds bought so far; clamping the float residue keeps every sell's
    # end inside the lots before it (else it could reach the next episode's first lot).
    q_ep = np.minimum(pairs.unlay(pairs.cumsum(matched_l, restart)), b_ep)
    ep_first = pairs.unlay(restart)
    flat = pairs.unlay(flat_l)
    matched = pairs.unlay(matched_l)
    del buy_l, qty_l, bq_l, restart, open_after, flat_l, open_before, matched_l
    unmatched = np.where(is_buy, 0.0, np.maximum(qty - matched, 0.0))
    b_prev = _before(b_ep, ep_first)
    q_prev = _before(q_ep, ep_first)
    ep_id = np.cumsum(ep_first) - 1
    ep_lasts = np.append(np.flatnonzero(ep_first)[1:] - 1, n - 1) if n else ep_id
    q_end = q_ep[ep_lasts][ep_id]

    # Lots occupy [b_prev, b_ep) and a sell's matched part [q_prev, q_ep) on the episode's
    # quantity axis; both are sorted by (episode, position), so two binary searches give each
    # sell's first and last lot, and every lot in between is one piece.
    lots = np.flatnonzero(is_buy)
    sells = np.flatnonzero(matched > 0)
    lot_ep, sell_ep = ep_id[lots], ep_id[sells]
    first = np.searchsorted(
        _keys(lot_ep, b_prev[lots]), _keys(sell_ep, q_prev[sells]), side="right"
    )
    last = np.searchsorted(_keys(lot_ep, b_ep[lots]), _keys(sell_ep, q_ep[sells]), side="left")
    del lot_ep, sell_ep
    first -= 1
    spans = np.maximum(last - first, 0) + 1
    sell_of = np.repeat(sells, spans)
    offsets = np.arange(len(sell_of), dtype=np.int64) - np.repeat(np.cumsum(spans) - spans, spans)
    lot_of = lots[np.repeat(first, spans) + offsets]
    del first, last, spans, offsets
    m = np.maximum(
        np.minimum(b_ep[lot_of], q_ep[sell_of]) - np.maximum(b_prev[lot_of], q_prev[sell_of]), 0.0
    )
    c = price[lot_of]
    piece_cost = m * c
    dt = (time_us[sell_of] - time_us[lot_of]).astype(np.float64) / _US_PER_SECOND
    cost = np.bincount(sell_of, weights=piece_cost, minlength=n)
    realized = np.bincount(sell_of, weights=m * (price[sell_of] - c), minlength=n)
    hold = np.bincount(sell_of, weights=piece_cost * dt, minlength=n)

    # What is left of lot j: the part of [b_prev, b_ep) above the episode's final matched
    # quantity; nothing once the episode closed flat.
    closed = flat[ep_lasts][ep_id]
    left = np.where(is_buy & ~closed, np.maximum(b_ep - np.maximum(b_prev, q_end), 0.0), 0.0)
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


def fifo_all_pairs(
    pair_first: Bools, is_buy: Bools, qty: F64, value: F64, time_us: I64
) -> dict[str, np.ndarray]:
    """fifo_pairs over chunks of whole pairs, in parallel threads, results concatenated.

    Chunks of about _CHUNK_EVENTS events keep every temporary array small: the allocator reuses
    their memory from chunk to chunk, where arrays of the whole input would each be fresh pages
    from the kernel (page faults cost more than the arithmetic), and they stay in cache.
    """
    firsts = np.flatnonzero(pair_first)
    n = len(qty)
    # Each cut is the first pair starting at or after a multiple of the chunk size.
    at = np.searchsorted(firsts, np.arange(_CHUNK_EVENTS, n, _CHUNK_EVENTS))
    cuts = np.unique(firsts[at[at < len(firsts)]])
    bounds = list(zip(np.append(0, cuts), np.append(cuts, n), strict=True))
    with ThreadPoolExecutor(_FIFO_THREADS) as pool:
        parts = list(
            pool.map(
                lambda b: fifo_pairs(
                    pair_first[b[0] : b[1]],
                    is_buy[b[0] : b[1]],
                    qty[b[0] : b[1]],
                    value[b[0] : b[1]],
                    time_us[b[0] : b[1]],
                ),
                bounds,
            )
        )
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


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
        swap_table.join(tx_counts, on="wallet_id", how="left")
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
        .sort("wallet_id")
    )
    return (
        schemas.conform(token_pnl, schemas.WALLET_TOKEN_PNL),
        schemas.conform(wallet_pnl, schemas.WALLET_PNL),
    )
