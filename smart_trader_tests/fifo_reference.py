"""A plain, obviously-correct silver: one loop over swaps, a deque of lots per (wallet, token).

Written straight from DATA_CONTRACT.md without any engine code, so that the property tests and
the benchmark can hold the vectorized engine (smart_trader.pnl.fifo) against it.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import polars as pl

from smart_trader import schemas

EPS = 1e-9
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Swap = Mapping[str, Any]


def _price(p: float | None) -> float | None:
    return p if p is not None and math.isfinite(p) and p > 0 else None


def swap_value(swap: Swap, quotes: frozenset[str]) -> float | None:
    sold_p = _price(swap["sold_price_usd"])
    bought_p = _price(swap["bought_price_usd"])
    sold_v = None if sold_p is None else swap["sold_amount"] * sold_p
    bought_v = None if bought_p is None else swap["bought_amount"] * bought_p
    if (
        sold_v is not None
        and bought_v is not None
        and max(sold_v, bought_v) > 3 * min(sold_v, bought_v)
    ):
        return None
    if swap["sold_token_address"] in quotes and sold_v is not None:
        return sold_v
    if swap["bought_token_address"] in quotes and bought_v is not None:
        return bought_v
    if sold_v is not None:
        return sold_v
    return bought_v


def _key(swap: Swap) -> tuple[Any, ...]:
    return (
        swap["block_time"],
        swap["block_number"],
        swap["tx_hash"],
        swap["ins_index"],
        swap["inner_ins_index"],
    )


@dataclass
class _Pair:
    lots: deque[list[float]] = field(default_factory=deque)  # [qty left, unit cost, t0 µs]
    buy_count: int = 0
    sell_count: int = 0
    bought_qty: float = 0.0
    sold_qty: float = 0.0
    bought_usd: float = 0.0
    sold_usd: float = 0.0
    matched_qty: float = 0.0
    unmatched_sell_qty: float = 0.0
    unmatched_sell_usd: float = 0.0
    cost_basis_sold_usd: float = 0.0
    realized_pnl_usd: float = 0.0
    matched_sell_count: int = 0
    winning_sell_count: int = 0
    hold: float = 0.0
    first: datetime | None = None
    last: datetime | None = None


def reference_skill_p_value(returns: Iterable[float]) -> float | None:
    """The contract's one-sided Wilcoxon signed-rank test, by its words: |r| <= eps dropped;
    average ranks of |r| (as fractions); W = the sum of the positive r's ranks; P(W' >= W) by
    counting every sign pattern's sum (a dictionary of sums) for n <= 50, else the normal
    approximation with the tie correction."""
    kept = [r for r in returns if abs(r) > EPS]
    n = len(kept)
    if n == 0:
        return None
    sizes = sorted(abs(r) for r in kept)
    positions: dict[float, list[int]] = defaultdict(list)
    for i, size in enumerate(sizes, start=1):
        positions[size].append(i)
    ranks = [Fraction(sum(positions[abs(r)]), len(positions[abs(r)])) for r in kept]
    w = sum((rank for r, rank in zip(kept, ranks, strict=True) if r > 0), Fraction(0))
    if n > 50:
        ties = sum(t**3 - t for t in Counter(sizes).values())
        sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)
        return 1 - statistics.NormalDist().cdf((float(w) - n * (n + 1) / 4) / sigma)
    patterns: dict[Fraction, int] = {Fraction(0): 1}
    for rank in ranks:
        grown: dict[Fraction, int] = defaultdict(int)
        for total, count in patterns.items():
            grown[total] += count  # this rank's sign is -
            grown[total + rank] += count  # +
        patterns = grown
    return sum(count for total, count in patterns.items() if total >= w) / 2**n


def reference_silver(
    swaps: Iterable[Swap],
    *,
    as_of_date: date,
    quote_assets: frozenset[str],
    non_trade_sources: frozenset[str],
    metric_prices: Mapping[str, float],
    api_prices: Mapping[str, float],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(wallet_token_pnl, wallet_pnl) by the contract, swap dicts in, conformed frames out."""
    swaps = sorted(
        (s for s in swaps if s["source"] not in non_trade_sources),
        key=lambda s: (*_key(s), s["wallet_address"]),
    )
    values = [swap_value(s, quote_assets) for s in swaps]

    txs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, s in enumerate(swaps):
        txs[(s["wallet_address"], s["tx_hash"])].append(i)  # swaps already in event order

    pairs: dict[tuple[str, str], _Pair] = {}
    trades: dict[str, int] = defaultdict(int)
    unpriced_trades: dict[str, int] = defaultdict(int)
    for (wallet, _tx), idx in sorted(txs.items(), key=lambda kv: _key(swaps[kv[1][0]])):
        legs: dict[str, list[tuple[bool, float, float | None]]] = defaultdict(list)
        for i in idx:
            s = swaps[i]
            if s["sold_token_address"] not in quote_assets:
                legs[s["sold_token_address"]].append((False, s["sold_amount"], values[i]))
            if s["bought_token_address"] not in quote_assets:
                legs[s["bought_token_address"]].append((True, s["bought_amount"], values[i]))
        t = swaps[idx[0]]["block_time"]
        any_event = False
        any_priced = False
        for token, token_legs in legs.items():
            sides = {is_buy for is_buy, _, _ in token_legs}
            if len(sides) == 2:
                continue
            any_event = True
            if any(v is None for _, _, v in token_legs):
                continue
            any_priced = True
            qty = 0.0
            value = 0.0
            for _, q, v in token_legs:
                qty += q
                value += v  # type: ignore[operator]
            pair = pairs.setdefault((wallet, token), _Pair())
            _apply(pair, sides.pop(), qty, value, t)
        if any_priced:
            trades[wallet] += 1
        elif any_event:
            unpriced_trades[wallet] += 1

    marks = _marks({token for _, token in pairs}, swaps, values, metric_prices, api_prices)
    token_rows: list[dict[str, Any]] = []
    for (wallet, token), p in sorted(pairs.items()):
        open_qty = p.bought_qty - p.matched_qty
        open_cost = sum(q * c for q, c, _ in p.lots)
        mark, source = marks[token]
        token_rows.append(
            {
                "as_of_date": as_of_date,
                "wallet_address": wallet,
                "token_address": token,
                "buy_count": p.buy_count,
                "sell_count": p.sell_count,
                "bought_qty": p.bought_qty,
                "sold_qty": p.sold_qty,
                "bought_usd": p.bought_usd,
                "sold_usd": p.sold_usd,
                "matched_qty": p.matched_qty,
                "unmatched_sell_qty": p.unmatched_sell_qty,
                "unmatched_sell_usd": p.unmatched_sell_usd,
                "cost_basis_sold_usd": p.cost_basis_sold_usd,
                "realized_pnl_usd": p.realized_pnl_usd,
                "matched_sell_count": p.matched_sell_count,
                "winning_sell_count": p.winning_sell_count,
                "open_qty": open_qty,
                "open_cost_usd": open_cost,
                "mark_price_usd": mark,
                "mark_source": source,
                "unrealized_pnl_usd": open_qty * mark - open_cost,
                "avg_hold_seconds": p.hold / p.cost_basis_sold_usd
                if p.cost_basis_sold_usd != 0
                else None,
                "hold_numerator": p.hold,
                "first_trade_at": p.first,
                "last_trade_at": p.last,
            }
        )

    swaps_of: dict[str, list[Swap]] = defaultdict(list)
    for s in swaps:
        swaps_of[s["wallet_address"]].append(s)
    rows_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in token_rows:
        rows_of[r["wallet_address"]].append(r)
    wallet_rows = []
    for wallet in sorted(swaps_of):
        mine = swaps_of[wallet]
        per_day: dict[date, set[str]] = defaultdict(set)
        for s in mine:
            per_day[s["block_time"].date()].add(s["tx_hash"])
        tokens = rows_of[wallet]
        row: dict[str, Any] = {
            "as_of_date": as_of_date,
            "wallet_address": wallet,
            "swap_count": len({s["tx_hash"] for s in mine}),
            "trade_count": trades[wallet],
            "unpriced_trade_count": unpriced_trades[wallet],
            "tokens_traded": len(tokens),
            "tokens_realized": sum(1 for r in tokens if r["matched_sell_count"] > 0),
            "tokens_profitable": sum(
                1
                for r in tokens
                if r["matched_sell_count"] > 0
                and r["realized_pnl_usd"] > EPS * r["cost_basis_sold_usd"]
            ),
            "skill_p_value": reference_skill_p_value(
                r["realized_pnl_usd"] / r["cost_basis_sold_usd"]
                for r in tokens
                if r["matched_sell_count"] > 0
            ),
            "active_days": len(per_day),
            "max_trades_per_day": max(len(v) for v in per_day.values()),
            "history_truncated": any(s["fetch_truncated"] for s in mine),
            "first_trade_at": min(s["block_time"] for s in mine),
            "last_trade_at": max(s["block_time"] for s in mine),
            "best_token_realized_pnl_usd": max(
                (r["realized_pnl_usd"] for r in tokens), default=None
            ),
        }
        for col in (
            "buy_count",
            "sell_count",
            "matched_sell_count",
            "winning_sell_count",
            "bought_usd",
            "sold_usd",
            "cost_basis_sold_usd",
            "unmatched_sell_usd",
            "open_cost_usd",
            "realized_pnl_usd",
            "unrealized_pnl_usd",
            "hold_numerator",
        ):
            row[col] = sum(r[col] for r in tokens)
        cb = row["cost_basis_sold_usd"]
        invested = row["open_cost_usd"] + cb
        row["open_cost_share"] = row["open_cost_usd"] / invested if invested != 0 else None
        row["total_pnl_usd"] = row["realized_pnl_usd"] + row["unrealized_pnl_usd"]
        row["roi_pct"] = row["realized_pnl_usd"] / cb * 100 if cb != 0 else None
        row["win_rate_pct"] = (
            row["winning_sell_count"] / row["matched_sell_count"] * 100
            if row["matched_sell_count"]
            else None
        )
        row["avg_hold_seconds"] = row["hold_numerator"] / cb if cb != 0 else None
        wallet_rows.append(row)

    token_frame = pl.DataFrame(
        token_rows, schema=schemas.WALLET_TOKEN_PNL.schema | {"hold_numerator": pl.Float64}
    )
    wallet_frame = pl.DataFrame(
        wallet_rows, schema=schemas.WALLET_PNL.schema | {"hold_numerator": pl.Float64}
    )
    return (
        token_frame.select(*schemas.WALLET_TOKEN_PNL.schema.names(), "hold_numerator"),
        wallet_frame.select(*schemas.WALLET_PNL.schema.names(), "hold_numerator"),
    )


def _apply(pair: _Pair, is_buy: bool, qty: float, value: float, t: datetime) -> None:
    """One event through the FIFO."""
    price = value / qty
    us = (t - _EPOCH) // timedelta(microseconds=1)
    pair.first = t if pair.first is None else min(pair.first, t)
    pair.last = t if pair.last is None else max(pair.last, t)
    if is_buy:
        pair.buy_count += 1
        pair.bought_qty += qty
        pair.bought_usd += value
        pair.lots.append([qty, price, us])
        return
    pair.sell_count += 1
    pair.sold_qty += qty
    pair.sold_usd += value
    left = qty
    matched = cost = realized = hold = 0.0
    while left > 0 and pair.lots:
        lot = pair.lots[0]
        m = min(left, lot[0])
        matched += m
        cost += m * lot[1]
        realized += m * (price - lot[1])
        hold += m * lot[1] * ((us - lot[2]) / 1e6)
        lot[0] -= m
        left -= m
        if lot[0] <= 0:
            pair.lots.popleft()
    pair.matched_qty += matched
    pair.unmatched_sell_qty += left
    pair.unmatched_sell_usd += left * price
    pair.cost_basis_sold_usd += cost
    pair.realized_pnl_usd += realized
    pair.hold += hold
    if matched > EPS * pair.bought_qty:
        pair.matched_sell_count += 1
        if realized > EPS * cost:
            pair.winning_sell_count += 1


def _marks(
    tokens: set[str],
    swaps: list[Swap],
    values: list[float | None],
    metric_prices: Mapping[str, float],
    api_prices: Mapping[str, float],
) -> dict[str, tuple[float, str]]:
    own: dict[str, list[float]] = defaultdict(list)
    implied: dict[str, list[float]] = defaultdict(list)
    for s, v in zip(swaps, values, strict=True):  # swaps are in event order
        for side in ("sold", "bought"):
            token = s[f"{side}_token_address"]
            price = _price(s[f"{side}_price_usd"])
            if price is not None:
                own[token].append(price)
            if v is not None:
                implied[token].append(v / s[f"{side}_amount"])
    out = {}
    for token in tokens:
        if _price(metric_prices.get(token)) is not None:
            out[token] = (metric_prices[token], "token_metrics")
        elif _price(api_prices.get(token)) is not None:
            out[token] = (api_prices[token], "token_prices")
        elif own[token]:
            out[token] = (statistics.median(own[token][-5:]), "last_trades")
        else:
            out[token] = (statistics.median(implied[token][-5:]), "implied_trades")
    return out


# Comparison of the engine's frames with the reference's, at the contract's tolerances: money
# within 1e-9 of the pair's traded volume (bought_usd + sold_usd), quantities within 1e-9 of
# bought_qty + sold_qty, counts, sources and timestamps exactly.

TOL = 1e-9
QTY = ("bought_qty", "sold_qty", "matched_qty", "unmatched_sell_qty", "open_qty")
MONEY = (
    "bought_usd",
    "sold_usd",
    "unmatched_sell_usd",
    "cost_basis_sold_usd",
    "realized_pnl_usd",
    "open_cost_usd",
)
EXACT_TOKEN = (
    "as_of_date",
    "wallet_address",
    "token_address",
    "buy_count",
    "sell_count",
    "matched_sell_count",
    "winning_sell_count",
    "mark_source",
    "first_trade_at",
    "last_trade_at",
)
EXACT_WALLET = (
    "as_of_date",
    "wallet_address",
    "swap_count",
    "trade_count",
    "unpriced_trade_count",
    "tokens_traded",
    "tokens_realized",
    "buy_count",
    "sell_count",
    "matched_sell_count",
    "winning_sell_count",
    "win_rate_pct",
    "active_days",
    "max_trades_per_day",
    "history_truncated",
    "first_trade_at",
    "last_trade_at",
)


def _close(got: float | None, want: float | None, tol: float, what: str) -> None:
    assert (got is None) == (want is None), f"{what}: {got} vs {want}"
    if got is not None and want is not None:
        assert abs(got - want) <= tol, f"{what}: {got} vs {want} (tolerance {tol})"


def _ratio(
    got: float | None, num: float, den: float, tol_num: float, tol_den: float, what: str
) -> None:
    """got ≈ num / den, judged on the numerator's scale (den may be float dust)."""
    if got is None:
        assert abs(den) <= tol_den, f"{what}: null but denominator {den}"
        return
    assert abs(got * den - num) <= tol_num + abs(got) * tol_den, f"{what}: {got} vs {num}/{den}"


def _time_span(frame: pl.DataFrame) -> float:
    if frame.is_empty():
        return 0.0
    first: datetime = frame.get_column("first_trade_at").min()  # type: ignore[assignment]
    last: datetime = frame.get_column("last_trade_at").max()  # type: ignore[assignment]
    return (last - first).total_seconds()


def assert_silver_equal(
    engine: tuple[pl.DataFrame, pl.DataFrame], reference: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Engine and reference frames agree. skill_p_value: ranks jump where two |r| cross, so
    float residue between the two FIFOs could reorder a near-tie; the reference's test is
    applied to the engine's own per-token returns (which agree with the reference's, above).
    tokens_profitable likewise counts the engine's own tokens: a token whose realized PnL lies
    within the money tolerance of ε × its cost basis may fall on either side of the bound."""
    tokens, wallets = engine
    ref_tokens, ref_wallets = reference
    assert schemas.schema_problems(tokens.schema, schemas.WALLET_TOKEN_PNL) == []
    assert schemas.schema_problems(wallets.schema, schemas.WALLET_PNL) == []
    assert tokens.height == ref_tokens.height
    assert wallets.height == ref_wallets.height
    span = _time_span(ref_tokens)

    pair_scale: dict[str, list[float]] = {}
    returns: dict[str, list[float]] = defaultdict(list)
    profitable: dict[str, int] = defaultdict(int)
    for got, want in zip(
        tokens.iter_rows(named=True), ref_tokens.iter_rows(named=True), strict=True
    ):
        where = f"{want['wallet_address']}/{want['token_address']}"
        for col in EXACT_TOKEN:
            assert got[col] == want[col], f"{where} {col}: {got[col]} vs {want[col]}"
        money = TOL * (want["bought_usd"] + want["sold_usd"])
        qty = TOL * (want["bought_qty"] + want["sold_qty"])
        for col in MONEY:
            _close(got[col], want[col], money, f"{where} {col}")
        for col in QTY:
            _close(got[col], want[col], qty, f"{where} {col}")
        _close(got["mark_price_usd"], want["mark_price_usd"], 1e-12 * want["mark_price_usd"], where)
        unrealized = money + TOL * (want["bought_qty"] + want["sold_qty"]) * want["mark_price_usd"]
        _close(got["unrealized_pnl_usd"], want["unrealized_pnl_usd"], unrealized, f"{where} unr")
        _ratio(
            got["avg_hold_seconds"],
            want["hold_numerator"],
            want["cost_basis_sold_usd"],
            money * max(span, 1.0),
            money,
            f"{where} avg_hold_seconds",
        )
        if got["matched_sell_count"] > 0:
            returns[want["wallet_address"]].append(
                got["realized_pnl_usd"] / got["cost_basis_sold_usd"]
            )
        got_profit = got["realized_pnl_usd"] - EPS * got["cost_basis_sold_usd"]
        want_profit = want["realized_pnl_usd"] - EPS * want["cost_basis_sold_usd"]
        if got["matched_sell_count"] > 0 and (got_profit > 0) != (want_profit > 0):
            assert abs(want_profit) <= money, f"{where} profitable: {got_profit} vs {want_profit}"
        profitable[want["wallet_address"]] += got["matched_sell_count"] > 0 and got_profit > 0
        scale = pair_scale.setdefault(want["wallet_address"], [0.0, 0.0])
        scale[0] += money
        scale[1] += unrealized

    for got, want in zip(
        wallets.iter_rows(named=True), ref_wallets.iter_rows(named=True), strict=True
    ):
        where = want["wallet_address"]
        for col in EXACT_WALLET:
            assert got[col] == want[col], f"{where} {col}: {got[col]} vs {want[col]}"
        assert got["tokens_profitable"] == profitable[where], f"{where} tokens_profitable"
        money, unrealized = pair_scale.get(where, [0.0, 0.0])
        for col in (
            "bought_usd",
            "sold_usd",
            "cost_basis_sold_usd",
            "unmatched_sell_usd",
            "open_cost_usd",
            "realized_pnl_usd",
        ):
            _close(got[col], want[col], money, f"{where} {col}")
        _ratio(
            got["open_cost_share"],
            want["open_cost_usd"],
            want["open_cost_usd"] + want["cost_basis_sold_usd"],
            money,
            money,
            f"{where} open_cost_share",
        )
        expected_p = reference_skill_p_value(returns.get(where, []))
        _close(got["skill_p_value"], expected_p, 1e-12, f"{where} skill_p_value")
        _close(
            got["best_token_realized_pnl_usd"], want["best_token_realized_pnl_usd"], money, where
        )
        _close(got["unrealized_pnl_usd"], want["unrealized_pnl_usd"], unrealized, f"{where} unr")
        _close(got["total_pnl_usd"], want["total_pnl_usd"], unrealized, f"{where} total")
        cb = want["cost_basis_sold_usd"]
        _ratio(
            got["roi_pct"], 100 * want["realized_pnl_usd"], cb, 100 * money, money, f"{where} roi"
        )
        _ratio(
            got["avg_hold_seconds"],
            want["hold_numerator"],
            cb,
            money * max(span, 1.0),
            money,
            f"{where} avg_hold_seconds",
        )


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return list(frame.iter_rows(named=True))
