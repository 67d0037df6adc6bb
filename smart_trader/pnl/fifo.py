"""The FIFO kernel: lot matching over the events of every (wallet, token) pair at once
(DATA_CONTRACT.md, silver/wallet_token_pnl "FIFO"). Pure numpy, vectorized: no Python loop over
events or pairs. The silver assembly around it (events in, table rows out) is pnl.silver.

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
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from smart_trader.pnl.segments import F64, I64, Bools, Segments

DUST_EPSILON = 1e-9
_US_PER_SECOND = 1_000_000.0
_MAX_EPISODE_PASSES = 8
# numpy releases the GIL in its array loops: pairs are independent, so two threads (this machine's
# cores) run the FIFO of chunks of pairs.
_FIFO_THREADS = 2
_CHUNK_EVENTS = 1 << 16


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
