"""Hand-computed examples, one per rule of DATA_CONTRACT.md's silver."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from smart_trader import quality, schemas
from smart_trader.pnl import events, fifo
from smart_trader.pnl.checks import fifo_invariant_violations, reconciliation_mismatches
from smart_trader.pnl.events import swap_value_usd
from smart_trader.pnl.segments import Segments
from smart_trader.pnl.silver import _in_event_order, compute_silver
from smart_trader.settings import DEFAULT_NON_TRADE_SOURCES, USDC, WSOL

D = date(2026, 3, 10)
QUOTES = frozenset({WSOL, USDC})
NON_TRADE = frozenset(DEFAULT_NON_TRADE_SOURCES)
T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
NO_PRICES = pl.DataFrame(schema={"token_address": pl.String, "price_usd": pl.Float64})


def swap(
    t: int,
    tx: str,
    sold: str,
    sold_amount: float,
    sold_price: float | None,
    bought: str,
    bought_amount: float,
    bought_price: float | None,
    *,
    wallet: str = "W",
    ins: int = 0,
    truncated: bool = False,
) -> dict[str, Any]:
    return {
        "ingest_date": D,
        "block_time": T0 + timedelta(seconds=t),
        "block_number": 100 + t,
        "tx_hash": tx,
        "ins_index": ins,
        "inner_ins_index": -1,
        "wallet_address": wallet,
        "source": "dex",
        "sold_token_address": sold,
        "sold_token_symbol": "S",
        "sold_amount": sold_amount,
        "sold_price_usd": sold_price,
        "bought_token_address": bought,
        "bought_token_symbol": "B",
        "bought_amount": bought_amount,
        "bought_price_usd": bought_price,
        "fetched_at": T0,
        "fetch_truncated": truncated,
    }


def buy(t: int, tx: str, qty: float, usd: float, token: str = "T", **kw: Any) -> dict[str, Any]:
    """Buy `qty` of token for `usd` worth of SOL (150 USD)."""
    return swap(t, tx, WSOL, usd / 150, 150.0, token, qty, None, **kw)


def sell(t: int, tx: str, qty: float, usd: float, token: str = "T", **kw: Any) -> dict[str, Any]:
    return swap(t, tx, token, qty, None, WSOL, usd / 150, 150.0, **kw)


def silver(
    swaps: list[dict[str, Any]],
    metric: dict[str, float] | None = None,
    api: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    def prices(p: dict[str, float] | None) -> pl.DataFrame:
        if not p:
            return NO_PRICES
        return pl.DataFrame({"token_address": list(p), "price_usd": list(p.values())})

    frame = schemas.conform(
        pl.DataFrame(swaps, schema=schemas.TRANSACTION_HISTORY.schema, strict=False),
        schemas.TRANSACTION_HISTORY,
    )
    tokens, wallets = compute_silver(
        frame,
        as_of_date=D,
        quote_assets=QUOTES,
        non_trade_sources=NON_TRADE,
        metric_prices=prices(metric if metric is not None else {"T": 1.0}),
        api_prices=prices(api),
    )
    assert fifo_invariant_violations(tokens).is_empty()
    assert reconciliation_mismatches(tokens, wallets).is_empty()
    assert quality.wallet_metric_violations(wallets, tokens).is_empty()
    return tokens, wallets


def one(frame: pl.DataFrame, **where: str) -> dict[str, Any]:
    for col, value in where.items():
        frame = frame.filter(pl.col(col) == value)
    assert frame.height == 1
    return frame.row(0, named=True)


def test_fifo_two_lots_partial_sale() -> None:
    # Buy 100 @ 1, buy 50 @ 2, sell 120 @ 3: 100 from lot 1 and 20 from lot 2.
    tokens, _ = silver([buy(0, "a", 100, 100), buy(10, "b", 50, 100), sell(30, "c", 120, 360)])
    r = one(tokens)
    assert r["matched_qty"] == pytest.approx(120)
    assert r["cost_basis_sold_usd"] == pytest.approx(100 + 40)
    assert r["realized_pnl_usd"] == pytest.approx(360 - 140)
    assert r["open_qty"] == pytest.approx(30)
    assert r["open_cost_usd"] == pytest.approx(60)
    # Mark 1.0 from token_metrics: 30 x 1 - 60.
    assert (r["mark_price_usd"], r["mark_source"]) == (1.0, "token_metrics")
    assert r["unrealized_pnl_usd"] == pytest.approx(-30)
    # Holding time: 100 USD held 30 s and 40 USD held 20 s, over 140 USD.
    assert r["avg_hold_seconds"] == pytest.approx((100 * 30 + 40 * 20) / 140)
    assert (r["matched_sell_count"], r["winning_sell_count"]) == (1, 1)


def test_oversell_and_sell_before_buy_are_unmatched() -> None:
    # Sell 10 before any buy (unmatched), buy 5 @ 2, sell 8 @ 3: 5 matched, 3 unmatched.
    tokens, _ = silver([sell(0, "a", 10, 10), buy(5, "b", 5, 10), sell(9, "c", 8, 24)])
    r = one(tokens)
    assert r["matched_qty"] == pytest.approx(5)
    assert r["unmatched_sell_qty"] == pytest.approx(13)
    assert r["unmatched_sell_usd"] == pytest.approx(10 + 3 * 3)
    assert r["realized_pnl_usd"] == pytest.approx(5 * (3 - 2))
    assert r["open_qty"] == pytest.approx(0)
    assert r["matched_sell_count"] == 1  # the first sell matched nothing


def test_a_sell_never_matches_a_later_buy() -> None:
    tokens, _ = silver([sell(0, "a", 10, 10), buy(5, "b", 10, 20)])
    r = one(tokens)
    assert (r["matched_qty"], r["unmatched_sell_qty"], r["open_qty"]) == (0, 10, 10)
    assert r["avg_hold_seconds"] is None


def test_one_sell_consumes_many_lots() -> None:
    swaps = [buy(i, f"b{i}", 1, i + 1) for i in range(5)] + [sell(10, "s", 5, 50)]
    r = one(silver(swaps)[0])
    assert r["cost_basis_sold_usd"] == pytest.approx(1 + 2 + 3 + 4 + 5)
    assert r["realized_pnl_usd"] == pytest.approx(50 - 15)


def test_value_cascade() -> None:
    q = swap_value_usd(QUOTES)

    def value(s: dict[str, Any]) -> float | None:
        frame = pl.DataFrame([s], schema=schemas.TRANSACTION_HISTORY.schema, strict=False)
        out: float | None = frame.select(q).item()
        return out

    # 1. The quote leg (SOL 2 x 150 = 300) wins over the token leg (100 x 2.5 = 250).
    assert value(swap(0, "a", WSOL, 2, 150.0, "T", 100, 2.5)) == 300
    # Both legs quote: the sold one.
    assert value(swap(0, "a", USDC, 290, 1.0, WSOL, 2, 150.0)) == 290
    # 2. No priced quote leg: the sold leg.
    assert value(swap(0, "a", "A", 10, 3.0, "B", 5, 5.0)) == 30
    assert value(swap(0, "a", WSOL, 2, None, "T", 100, 2.5)) == 250  # quote leg unpriced
    # 3. Else the bought leg; 4. else null.
    assert value(swap(0, "a", "A", 10, None, "B", 5, 5.0)) == 25
    assert value(swap(0, "a", "A", 10, None, "B", 5, None)) is None
    # Legs more than 3x apart: inconsistent_leg_prices (exactly 3x is still consistent).
    assert value(swap(0, "a", WSOL, 1, 150.0, "T", 100, 4.6)) is None
    assert value(swap(0, "a", WSOL, 1, 150.0, "T", 100, 4.5)) == 150
    # An invalid price (0, inf) is no price.
    assert value(swap(0, "a", "A", 10, 0.0, "B", 5, float("inf"))) is None


def test_unpriced_swap_is_counted_but_gives_no_event() -> None:
    swaps = [
        buy(0, "a", 10, 10),
        swap(5, "u", WSOL, 1, None, "T", 10, None),  # unpriced: no event
        sell(9, "c", 10, 20),
    ]
    tokens, wallets = silver(swaps)
    r = one(tokens)
    assert (r["buy_count"], r["sell_count"]) == (1, 1)
    w = one(wallets)
    assert (w["swap_count"], w["trade_count"], w["unpriced_trade_count"]) == (3, 2, 1)


def test_multi_hop_drops_the_intermediate_and_split_routes_merge() -> None:
    swaps = [
        # A -> SOL -> T in one transaction: a SELL of A and a BUY of T, nothing for SOL.
        swap(0, "hop", "A", 100, 1.0, WSOL, 100 / 150, 150.0, ins=0),
        swap(0, "hop", WSOL, 100 / 150, 150.0, "T", 50, None, ins=1),
        # A -> T -> A (arbitrage loop): A both sold and bought, no event for A; T too.
        swap(5, "loop", "A", 10, 1.0, "T", 5, None, ins=0),
        swap(5, "loop", "T", 5, None, "A", 11, 1.0, ins=1),
        # Split route: two SOL -> T swaps merge into one BUY of 30 for 60 USD.
        swap(9, "split", WSOL, 0.2, 150.0, "T", 10, None, ins=0),
        swap(9, "split", WSOL, 0.2, 150.0, "T", 20, None, ins=1),
    ]
    tokens, wallets = silver(swaps, metric={"T": 1.0, "A": 1.0})
    a = one(tokens, token_address="A")
    assert (a["buy_count"], a["sell_count"], a["sold_usd"]) == (0, 1, 100)
    t = one(tokens, token_address="T")
    assert (t["buy_count"], t["bought_qty"], t["bought_usd"]) == (2, 80, 160)
    assert tokens.height == 2  # no SOL row
    w = one(wallets)
    assert (w["swap_count"], w["trade_count"], w["unpriced_trade_count"]) == (3, 2, 0)


def test_a_transaction_with_any_priced_event_is_a_trade_not_unpriced() -> None:
    swaps = [
        swap(0, "x", "A", 10, 1.0, WSOL, 10 / 150, 150.0, ins=0),
        swap(0, "x", WSOL, 1, None, "B", 10, None, ins=1),  # B unpriced, A priced
        swap(5, "y", WSOL, 1, None, "B", 10, None),  # only unpriced would-be events
        swap(9, "z", WSOL, 1, 150.0, USDC, 150, 1.0),  # quote-for-quote: no would-be event
    ]
    _, wallets = silver(swaps, metric={"A": 1.0})
    w = one(wallets)
    assert (w["swap_count"], w["trade_count"], w["unpriced_trade_count"]) == (3, 1, 1)


def test_merged_event_sits_at_the_first_swap_and_ties_break_by_tx_hash() -> None:
    # Same block time and slot: tx "a" comes before tx "b", whatever the input order.
    swaps = [sell(0, "b", 10, 30), buy(0, "a", 10, 10)]
    r = one(silver(swaps)[0])
    assert r["matched_qty"] == 10
    assert r["realized_pnl_usd"] == pytest.approx(20)


def test_dust_rule_for_counts() -> None:
    # 0.1 + 0.2 bought, 0.3 sold: float residue leaves ~5e-17 open; the next sell matches it,
    # which must not count as a matched (or winning) sell.
    swaps = [
        buy(0, "a", 0.1, 1),
        buy(1, "b", 0.2, 2),
        sell(2, "c", 0.3, 6),
        sell(3, "d", 1.0, 50),
    ]
    r = one(silver(swaps)[0])
    assert r["sell_count"] == 2
    assert r["matched_sell_count"] == 1
    assert r["winning_sell_count"] == 1
    # A breakeven sell is matched but not winning.
    r = one(silver([buy(0, "a", 4, 8), sell(1, "b", 4, 8)])[0])
    assert (r["matched_sell_count"], r["winning_sell_count"]) == (1, 0)


def test_huge_supply_tiny_price_after_a_huge_unmatched_sell() -> None:
    # 10^12 tokens at 10^-9 USD sold first (airdrop), then a small round trip stays exact.
    swaps = [sell(0, "a", 1e12, 1000), buy(1, "b", 1.2345, 0.5), sell(2, "c", 1.2344, 0.6)]
    r = one(silver(swaps)[0])
    assert r["matched_qty"] == pytest.approx(1.2344, rel=1e-12)
    assert r["open_qty"] == pytest.approx(1e-4, rel=1e-6)
    assert r["matched_sell_count"] == 1


def test_mark_price_fallbacks() -> None:
    swaps = [
        # Token P: own leg prices 1..6 in event order; last 5 -> median 4.
        *(swap(i, f"p{i}", WSOL, 1, 150.0, "P", 150 / (i + 1), float(i + 1)) for i in range(6)),
        # Token Q: priced only through SOL: implied unit price 150 / 50 = 3.
        swap(10, "q", WSOL, 1, 150.0, "Q", 50, None),
        buy(11, "m", 1, 1, token="M"),
        buy(12, "n", 1, 1, token="N"),
    ]
    tokens, _ = silver(swaps, metric={"M": 7.0}, api={"M": 8.0, "N": 9.0})
    marks = {
        r["token_address"]: (r["mark_price_usd"], r["mark_source"]) for r in tokens.rows(named=True)
    }
    assert marks == {
        "M": (7.0, "token_metrics"),
        "N": (9.0, "token_prices"),
        "P": (4.0, "last_trades"),
        "Q": (3.0, "implied_trades"),
    }


def test_wallet_pnl_rows_and_day_counts() -> None:
    day2 = 86_400
    swaps = [
        buy(0, "a", 10, 10, wallet="W1"),
        sell(5, "b", 10, 20, wallet="W1"),
        sell(day2, "c", 5, 5, wallet="W1", token="U"),
        # W2 only swaps quote for quote: a row with zero counts and null ratios.
        swap(3, "q", WSOL, 1, 150.0, USDC, 150, 1.0, wallet="W2", truncated=True),
    ]
    tokens, wallets = silver(swaps, metric={"T": 1.0, "U": 1.0})
    w1 = one(wallets, wallet_address="W1")
    assert (w1["active_days"], w1["max_trades_per_day"], w1["tokens_traded"]) == (2, 2, 2)
    assert (w1["tokens_realized"], w1["realized_pnl_usd"], w1["roi_pct"]) == (1, 10, 100)
    assert w1["best_token_realized_pnl_usd"] == 10
    assert w1["unmatched_sell_usd"] == 5
    assert w1["last_trade_at"] == T0 + timedelta(seconds=day2)
    assert w1["history_truncated"] is False
    w2 = one(wallets, wallet_address="W2")
    assert (w2["swap_count"], w2["trade_count"], w2["tokens_traded"]) == (1, 0, 0)
    assert (w2["roi_pct"], w2["win_rate_pct"], w2["avg_hold_seconds"]) == (None, None, None)
    assert w2["best_token_realized_pnl_usd"] is None
    assert w2["history_truncated"] is True
    assert wallets.get_column("as_of_date").to_list() == [D, D]
    assert tokens.get_column("wallet_address").to_list() == ["W1", "W1"]


def test_empty_window() -> None:
    tokens, wallets = silver([])
    assert tokens.is_empty() and wallets.is_empty()
    assert tokens.schema == schemas.WALLET_TOKEN_PNL.schema
    assert wallets.schema == schemas.WALLET_PNL.schema


def test_invariant_check_flags_a_broken_row() -> None:
    tokens, _ = silver([buy(0, "a", 10, 10), sell(5, "b", 4, 8)])
    broken = tokens.with_columns(
        open_qty=pl.lit(-1.0),
        matched_sell_count=pl.lit(3, pl.Int64),
        winning_sell_count=pl.lit(5, pl.Int64),
    )
    rules = fifo_invariant_violations(broken).get_column("rule").to_list()
    assert rules == [
        "matched_le_sells",
        "open_is_bought_minus_matched",
        "open_not_negative",
        "winning_le_matched",
    ]


def _colliding_hashes(real: Any, bad_seeds: set[int]) -> Any:
    """_hashes whose first hashes fall into 2 buckets under `bad_seeds` (second hashes intact)."""

    def hashes(seed: int) -> list[pl.Expr]:
        exprs: list[pl.Expr] = real(seed)
        if seed not in bad_seeds:
            return exprs
        return [e % 2 if i % 2 == 0 else e for i, e in enumerate(exprs)]

    return hashes


def test_hash_collisions_are_detected_and_another_seed_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    swaps = [
        buy(0, "a", 10, 10, wallet="W1"),
        buy(1, "b", 5, 10, wallet="W2", token="U"),
        sell(2, "c", 4, 8, wallet="W1"),
        sell(3, "d", 5, 20, wallet="W2", token="U"),
        buy(4, "e", 3, 3, wallet="W3", token="V"),
    ]
    expected = silver(swaps, metric={"T": 1.0, "U": 2.0, "V": 3.0})
    monkeypatch.setattr(events, "_hashes", _colliding_hashes(events._hashes, {0}))
    got = silver(swaps, metric={"T": 1.0, "U": 2.0, "V": 3.0})
    assert got[0].equals(expected[0]) and got[1].equals(expected[1])

    monkeypatch.setattr(events, "_hashes", _colliding_hashes(events._hashes, set(range(10))))
    with pytest.raises(events.HashCollisionError):
        silver(swaps)


def test_segment_scans_stay_inside_each_segment() -> None:
    rng = np.random.default_rng(3)
    lengths = np.array([1, 2, 3, 1000, 5, 64, 65, 1], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    values = rng.normal(size=int(lengths.sum())) * 10.0 ** rng.integers(-9, 12, int(lengths.sum()))
    segments = Segments(starts, len(values))
    laid = segments.lay(values)
    assert np.array_equal(segments.unlay(laid), values)
    pieces = np.split(values, starts[1:])
    expected_sum = np.concatenate([np.cumsum(p) for p in pieces])
    expected_min = np.concatenate([np.minimum.accumulate(p) for p in pieces])
    # Sequential per segment, as a loop would add: bit for bit.
    assert np.array_equal(segments.unlay(segments.cumsum(laid)), expected_sum)
    assert np.array_equal(segments.unlay(segments.cummin(laid)), expected_min)
    expected_previous = np.concatenate([np.append(0.0, p[:-1]) for p in pieces])
    assert np.array_equal(segments.unlay(segments.previous(laid)), expected_previous)
    assert np.allclose(segments.sums(values), [p.sum() for p in pieces], rtol=1e-12, atol=0)

    # Restarts split segments further: the same scans over the finer segments.
    restart_at = np.array([8, 300, 301, 1007], dtype=np.int64)
    finer = np.union1d(starts, restart_at)
    restart = np.zeros(len(values), dtype=bool)
    restart[finer] = True
    sub = np.split(values, finer[1:])
    assert np.array_equal(
        segments.unlay(segments.cumsum(laid, segments.lay(restart))),
        np.concatenate([np.cumsum(p) for p in sub]),
    )
    assert np.array_equal(
        segments.unlay(segments.cummin(laid, segments.lay(restart))),
        np.concatenate([np.minimum.accumulate(p) for p in sub]),
    )


@pytest.mark.parametrize("pair_range", [100, 2**40, 2**62])
def test_event_order_is_the_sort_on_pair_time_block_and_tx_hash(pair_range: int) -> None:
    # Few pairs and close times: many rows tie on the packed key. With large pair codes the
    # time's low bits are dropped (2**62: all of them), and the ties decide the whole order.
    rng = np.random.default_rng(11)
    n = 3_000
    pair_code = rng.integers(0, pair_range, 40, dtype=np.int64)[rng.integers(0, 40, n)]
    events_frame = pl.DataFrame(
        {
            "time_us": 1_700_000_000_000_000 + rng.integers(0, 50, n) * 1_000_000,
            "block_number": rng.integers(0, 3, n),
            "tx_hash": [f"tx{i}" for i in rng.permutation(n)],
            "is_buy": rng.random(n) < 0.5,
            "qty": np.arange(n, dtype=np.float64),
            "value_usd": rng.random(n),
        }
    )
    got = _in_event_order(events_frame, pair_code)
    expected = (
        events_frame.with_columns(pair_code=pl.Series(pair_code))
        .sort("pair_code", "time_us", "block_number", "tx_hash")
        .select(got.columns)
    )
    assert got.equals(expected)


def test_fifo_in_chunks_of_whole_pairs_equals_fifo_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 20, 300)
    n = int(lengths.sum())
    pair_first = np.zeros(n, dtype=bool)
    pair_first[np.concatenate([[0], np.cumsum(lengths)[:-1]])] = True
    is_buy = rng.random(n) < 0.55
    qty = 10.0 ** rng.uniform(-3, 6, n)
    value = qty * 10.0 ** rng.uniform(-2, 2, n)
    time_us = np.cumsum(rng.integers(1, 10**6, n))
    at_once = fifo.fifo_pairs(pair_first, is_buy, qty, value, time_us)
    # Chunks of about 7 events: most cuts fall inside a pair and move to its start.
    monkeypatch.setattr(fifo, "_CHUNK_EVENTS", 7)
    chunked = fifo.fifo_all_pairs(pair_first, is_buy, qty, value, time_us)
    assert chunked.keys() == at_once.keys()
    for name, column in at_once.items():
        assert len(chunked[name]) == len(lengths), name
        assert np.array_equal(chunked[name], column), name


def test_tokens_profitable_and_skill_p_value_over_realized_tokens() -> None:
    # Five tokens round-tripped at a profit, one at a loss of 10 % (the smallest move), one at
    # breakeven (r = 0: dropped), one only bought (not realized).
    ups = {"A": 1.5, "B": 2.0, "C": 3.0, "D": 1.2, "E": 1.3}
    swaps = []
    for i, (token, factor) in enumerate(ups.items()):
        swaps += [
            buy(10 * i, f"b{token}", 10, 100, token),
            sell(10 * i + 5, f"s{token}", 10, 100 * factor, token),
        ]
    swaps += [buy(100, "bL", 10, 100, "L"), sell(105, "sL", 10, 90, "L")]
    swaps += [buy(110, "bZ", 10, 100, "Z"), sell(115, "sZ", 10, 100, "Z")]
    swaps += [buy(120, "bO", 10, 100, "O")]
    _, wallets = silver(swaps, metric=dict.fromkeys([*ups, "L", "Z", "O"], 1.0))
    w = one(wallets)
    assert (w["tokens_traded"], w["tokens_realized"], w["tokens_profitable"]) == (8, 7, 5)
    # Returns 0.5, 1.0, 2.0, 0.2, 0.3 and -0.1 (rank 1): W = 21 - 1 = 20 of 21, reached by
    # {2..6} and {1..6}: 2 of 64.
    assert w["skill_p_value"] == 2 / 64
    # Open: the O lot (100 USD) beside 700 USD of matched cost basis.
    assert w["open_cost_usd"] == pytest.approx(100)
    assert w["open_cost_share"] == pytest.approx(100 / 800)


def test_open_cost_share_and_its_nulls() -> None:
    swaps = [
        # W1: 10 bought for 10, 4 sold: cost basis 4, open cost 6 -> share 0.6.
        buy(0, "a", 10, 10, wallet="W1"),
        sell(5, "b", 4, 8, wallet="W1"),
        # W2 only buys: share 1, no realized token, no p-value.
        buy(1, "c", 10, 10, wallet="W2"),
        # W3 only sells tokens it never bought (unmatched): no cost at all -> null share.
        sell(2, "d", 10, 10, wallet="W3"),
        # W4 swaps only quote for quote: no events -> null share, open cost 0.
        swap(3, "q", WSOL, 1, 150.0, USDC, 150, 1.0, wallet="W4"),
    ]
    _, wallets = silver(swaps)
    got = {
        r["wallet_address"]: (r["open_cost_usd"], r["open_cost_share"], r["skill_p_value"])
        for r in wallets.iter_rows(named=True)
    }
    assert got["W1"][:2] == (pytest.approx(6), pytest.approx(0.6))
    assert got["W1"][2] == 0.5  # one realized token, up
    assert got["W2"] == (pytest.approx(10), 1.0, None)
    assert got["W3"] == (0.0, None, None)
    assert got["W4"] == (0.0, None, None)


def test_a_stake_pool_swap_is_counted_nowhere() -> None:
    day2 = 86_400
    trades = [
        buy(0, "a", 10, 10),
        sell(5, "b", 10, 20),
        # Another token, priced only by its own legs: its mark comes from the trades.
        swap(7, "p", WSOL, 1, 150.0, "P", 50, 3.0),
    ]
    stakes = [
        # Liquid staking reported as swaps: SOL -> BNSOL on a day of its own, BNSOL -> SOL in a
        # block of a trade, and P at another price (which would move P's mark).
        {**swap(2 * day2, "st1", WSOL, 100, 150.0, "BNSOL", 95, 158.0), "source": "stake_pool"},
        {**swap(5, "st2", "BNSOL", 1, 158.0, WSOL, 1.05, 150.0), "source": "stake_pool"},
        {**swap(8, "st3", WSOL, 1, 150.0, "P", 10, 15.0), "source": "stake_pool"},
        # A wallet that only stakes gets no row at all.
        {
            **swap(9, "st4", WSOL, 10, 150.0, "BNSOL", 9.5, 158.0, wallet="S"),
            "source": "stake_pool",
        },
    ]
    expected = silver(trades, metric={"T": 1.0})
    got = silver(trades + stakes, metric={"T": 1.0})
    assert got[0].equals(expected[0])
    assert got[1].equals(expected[1])
    w = one(got[1])
    assert (w["swap_count"], w["active_days"], w["max_trades_per_day"]) == (3, 1, 3)
    assert w["last_trade_at"] == T0 + timedelta(seconds=7)
    assert one(got[0], token_address="P")["mark_source"] == "last_trades"
    assert set(got[0].get_column("token_address")) == {"T", "P"}
    # The setting decides: with no non-trade source, the same swaps are trades.
    frame = pl.DataFrame(trades + stakes, schema=schemas.TRANSACTION_HISTORY.schema, strict=False)
    _, counted = compute_silver(
        frame,
        as_of_date=D,
        quote_assets=QUOTES,
        non_trade_sources=frozenset(),
        metric_prices=NO_PRICES,
        api_prices=NO_PRICES,
    )
    assert counted.get_column("swap_count").to_list() == [1, 6]  # S, then W


def test_implied_trades_mark_is_the_median_of_the_last_five_valued_legs() -> None:
    # Token Q never has a price of its own: each swap is valued by its SOL leg. Implied unit
    # prices 150 x SOL / Q amount: 1, 2, 3, 10, 5, 6 in event order -> last 5: 2, 3, 10, 5, 6.
    implied = [1.0, 2.0, 3.0, 10.0, 5.0, 6.0]
    swaps = [swap(i, f"q{i}", WSOL, 1, 150.0, "Q", 150 / u, None) for i, u in enumerate(implied)]
    # An unpriced swap (no leg price) is no valued leg, however late.
    swaps.append(swap(20, "u", WSOL, 1, None, "Q", 1, None))
    tokens, _ = silver(swaps, metric={})
    r = one(tokens)
    assert (r["mark_price_usd"], r["mark_source"]) == (5.0, "implied_trades")
    # One leg price of its own anywhere among the swaps read makes it last_trades instead.
    swaps.append(swap(21, "own", WSOL, 1, 150.0, "Q", 15, 9.0))
    r = one(silver(swaps, metric={})[0])
    assert (r["mark_price_usd"], r["mark_source"]) == (9.0, "last_trades")


def test_checks_flag_wrong_values_of_the_new_columns() -> None:
    swaps = [
        buy(0, "a", 10, 10),
        sell(5, "b", 4, 8),
        buy(6, "c", 10, 10, token="U"),
        sell(7, "d", 10, 5, token="U"),
    ]
    tokens, wallets = silver(swaps, metric={"T": 1.0, "U": 1.0})
    broken = wallets.with_columns(
        skill_p_value=pl.lit(0.01), open_cost_share=pl.lit(0.4), tokens_profitable=pl.lit(2)
    )
    rules = quality.wallet_metric_violations(broken, tokens).get_column("rule").to_list()
    assert rules == [
        "open_cost_share != open_cost / (open_cost + cost_basis_sold)",
        "skill_p_value != signed-rank test over the tokens' returns",
    ]
    # A null where the test has a value is as wrong as another value.
    nulled = wallets.with_columns(skill_p_value=pl.lit(None, pl.Float64))
    assert quality.wallet_metric_violations(nulled, tokens).height == 1
    off = reconciliation_mismatches(
        tokens, broken.with_columns(open_cost_usd=pl.col("open_cost_usd") + 1.0)
    )
    assert off.get_column("column").to_list() == ["open_cost_usd", "tokens_profitable"]
