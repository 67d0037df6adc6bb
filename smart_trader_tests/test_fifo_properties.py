"""The vectorized engine equals the plain reference on random swap streams (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smart_trader import schemas
from smart_trader.pnl.checks import fifo_invariant_violations, reconciliation_mismatches
from smart_trader.pnl.silver import compute_silver
from smart_trader.settings import DEFAULT_NON_TRADE_SOURCES, USDC, WSOL
from smart_trader_tests.fifo_reference import assert_silver_equal, reference_silver

QUOTES = frozenset({WSOL, USDC})
NON_TRADE = frozenset(DEFAULT_NON_TRADE_SOURCES)
D = date(2026, 3, 10)
# Tokens with very different price scales (a 10^12-supply memecoin to a 10^6 USD token) plus the
# quote assets. Inside one token prices move by a moderate factor, as real trades do.
# The odd mantissas keep a sell's matched share of the bought quantity away from exactly the
# dust threshold 1e-9, where float residue would legitimately decide the count either way.
BASE_PRICE = {"TA": 1.37e-9, "TB": 1.13, "TC": 2.71e6, WSOL: 151.3, USDC: 1.0}
TOKENS = tuple(BASE_PRICE)
WALLETS = ("W1", "W2", "W3")
START = datetime(2026, 3, 9, 23, 59, 58, tzinfo=UTC)

magnitudes = st.sampled_from([1e-12, 1e-6, 1.0, 7e2, 1e9, 1e12])
mantissas = st.floats(1.0, 9.99)
moves = st.floats(0.2, 5.0)
# 1.0 = consistent legs; 5.0 makes the legs disagree by more than 3x when both are priced.
leg_factor = st.sampled_from([1.0, 1.0, 1.0, 0.8, 2.5, 5.0])


@st.composite
def swap_legs(draw: st.DrawFn, value_hint: float | None) -> dict[str, Any]:
    sold, bought = draw(st.lists(st.sampled_from(TOKENS), min_size=2, max_size=2, unique=True))
    sold_price = BASE_PRICE[sold] * draw(moves)
    bought_price = BASE_PRICE[bought] * draw(moves)
    if value_hint is None:
        sold_amount = draw(magnitudes) * draw(mantissas)
    else:
        sold_amount = value_hint / sold_price
    bought_amount = sold_amount * sold_price / bought_price * draw(leg_factor)
    return {
        "sold_token_address": sold,
        "sold_amount": sold_amount,
        "sold_price_usd": draw(st.one_of(st.just(sold_price), st.none())),
        "bought_token_address": bought,
        "bought_amount": bought_amount,
        "bought_price_usd": draw(
            st.one_of(st.just(bought_price), st.just(bought_price), st.none())
        ),
    }


@st.composite
def transaction(draw: st.DrawFn, n: int) -> list[dict[str, Any]]:
    wallet = draw(st.sampled_from(WALLETS))
    second = draw(st.integers(0, 5))  # few distinct times: identical timestamps across txs
    block = 1000 + second * 2 + draw(st.integers(0, 1))
    tx_hash = draw(st.sampled_from("abc")) + str(n)
    shape = draw(st.sampled_from(["one", "one", "hop", "split", "any"]))
    legs: list[dict[str, Any]]
    if shape == "hop":
        # A -> X -> B: X (quote or token) is bought then sold inside the transaction.
        a, x, b = draw(st.lists(st.sampled_from(TOKENS), min_size=3, max_size=3, unique=True))
        amount = draw(magnitudes) * draw(mantissas)
        mid = amount * BASE_PRICE[a] / BASE_PRICE[x]
        target = b if draw(st.booleans()) else a  # a: an arbitrage loop back to A
        legs = [
            _legs(a, amount, x, mid),
            _legs(x, mid, target, mid * BASE_PRICE[x] / BASE_PRICE[target]),
        ]
    elif shape == "split":
        first = draw(swap_legs(None))
        second_leg = dict(first)
        second_leg["sold_amount"] = first["sold_amount"] * draw(mantissas)
        second_leg["bought_amount"] = (
            first["bought_amount"] * second_leg["sold_amount"] / (first["sold_amount"])
        )
        legs = [first, second_leg]
    elif shape == "any":
        legs = draw(st.lists(swap_legs(None), min_size=1, max_size=3))
    else:
        legs = [draw(swap_legs(None))]
    truncated = draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans())
    out = []
    for i, leg in enumerate(legs):
        out.append(
            {
                "ingest_date": D,
                "block_time": START + timedelta(seconds=second),
                "block_number": block,
                "tx_hash": tx_hash,
                "ins_index": draw(st.integers(0, 3)) * 10 + i,
                "inner_ins_index": -1 if i == 0 else i,
                "wallet_address": wallet,
                "source": "dex",
                "sold_token_symbol": "S",
                "bought_token_symbol": "B",
                "fetched_at": START,
                "fetch_truncated": truncated,
                **leg,
            }
        )
    return out


def _legs(sold: str, sold_amount: float, bought: str, bought_amount: float) -> dict[str, Any]:
    return {
        "sold_token_address": sold,
        "sold_amount": sold_amount,
        "sold_price_usd": BASE_PRICE[sold],
        "bought_token_address": bought,
        "bought_amount": bought_amount,
        "bought_price_usd": BASE_PRICE[bought],
    }


@st.composite
def swap_streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 30))
    swaps: list[dict[str, Any]] = []
    for i in range(n):
        swaps.extend(draw(transaction(i)))
    return swaps


def _frame(swaps: list[dict[str, Any]]) -> pl.DataFrame:
    return schemas.conform(
        pl.DataFrame(swaps, schema=schemas.TRANSACTION_HISTORY.schema, strict=False),
        schemas.TRANSACTION_HISTORY,
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    swaps=swap_streams(),
    metric=st.dictionaries(st.sampled_from(TOKENS), st.floats(1e-9, 1e6), max_size=2),
    api=st.dictionaries(st.sampled_from(TOKENS), st.floats(1e-9, 1e6), max_size=2),
)
def test_engine_equals_reference(
    swaps: list[dict[str, Any]], metric: dict[str, float], api: dict[str, float]
) -> None:
    frame = _frame(swaps)
    prices = {
        name: pl.DataFrame(
            {"token_address": list(p), "price_usd": list(p.values())},
            schema={"token_address": pl.String, "price_usd": pl.Float64},
        )
        for name, p in (("metric", metric), ("api", api))
    }
    engine = compute_silver(
        frame.lazy(),
        as_of_date=D,
        quote_assets=QUOTES,
        non_trade_sources=NON_TRADE,
        metric_prices=prices["metric"],
        api_prices=prices["api"],
    )
    reference = reference_silver(
        frame.to_dicts(),
        as_of_date=D,
        quote_assets=QUOTES,
        non_trade_sources=NON_TRADE,
        metric_prices=metric,
        api_prices=api,
    )
    assert_silver_equal(engine, reference)
    assert fifo_invariant_violations(engine[0]).is_empty()
    assert reconciliation_mismatches(*engine).is_empty()


def test_a_sell_closing_with_float_residue_never_reaches_a_later_lot() -> None:
    # Events of one pair from the benchmark's data: the cumulative matched quantity of the
    # closing sell exceeds the cumulative bought one by float residue. A later lot of the same
    # token and one of another token follow; neither may be matched against that sell.
    qty_value_buy = [
        (277.45432903655717, 7427.2157102660894, False),
        (3.5776370192908709, 20.050205357743319, False),
        (4.7324385849142878, 52.437675681972884, True),
        (21.950751223776891, 496.74314203199361, True),
        (0.3656181929620112, 2.181194436817921, False),
        (3.7848184949653656, 18.402430821661689, True),
        (0.48465907619694937, 2.9673909437537018, False),
        (0.21072251881877324, 1.538302173389293, False),
        (1.5679884121550303, 28.749300111551353, True),
        (6.629043460937126, 67.936941836556912, False),
        (0.51620162644373169, 13.118801852084955, False),
        (0.16395616475105204, 1.7829519347234419, True),
        (149.19952300843266, 1356.884294360814, False),
        (100.0, 500.0, True),
    ]
    swaps = []
    for i, (qty, usd, is_buy) in enumerate(qty_value_buy):
        legs = (WSOL, usd / 150, "TB", qty) if is_buy else ("TB", qty, WSOL, usd / 150)
        swaps.append(
            {
                "ingest_date": D,
                "block_time": START + timedelta(seconds=i),
                "block_number": 1000 + i,
                "tx_hash": f"t{i}",
                "ins_index": 0,
                "inner_ins_index": -1,
                "wallet_address": "W1",
                "source": "dex",
                "sold_token_address": legs[0],
                "sold_token_symbol": "S",
                "sold_amount": legs[1],
                "sold_price_usd": 150.0 if legs[0] == WSOL else None,
                "bought_token_address": legs[2],
                "bought_token_symbol": "B",
                "bought_amount": legs[3],
                "bought_price_usd": 150.0 if legs[2] == WSOL else None,
                "fetched_at": START,
                "fetch_truncated": False,
            }
        )
    swaps.append(
        {**swaps[-1], "tx_hash": "u", "bought_token_address": "TC", "wallet_address": "W2"}
    )
    frame = _frame(swaps)
    engine = compute_silver(
        frame.lazy(),
        as_of_date=D,
        quote_assets=QUOTES,
        non_trade_sources=NON_TRADE,
        metric_prices=pl.DataFrame({"token_address": ["TB", "TC"], "price_usd": [1.0, 1.0]}),
        api_prices=pl.DataFrame(schema={"token_address": pl.String, "price_usd": pl.Float64}),
    )
    reference = reference_silver(
        frame.to_dicts(),
        as_of_date=D,
        quote_assets=QUOTES,
        non_trade_sources=NON_TRADE,
        metric_prices={"TB": 1.0, "TC": 1.0},
        api_prices={},
    )
    assert_silver_equal(engine, reference)
    assert fifo_invariant_violations(engine[0]).is_empty()
