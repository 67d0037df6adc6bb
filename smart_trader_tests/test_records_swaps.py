"""transaction_history from /trader/txs/seek_by_time records (smart_trader.ingest.swaps, pure)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from smart_trader import schemas
from smart_trader.ingest.ledger import EndpointCounts, Ledger, Rejection
from smart_trader.ingest.swaps import (
    TRADER_TXS,
    SwapCollector,
    parse_swap,
    transaction_history_result,
)
from smart_trader.settings import NATIVE_SOL, WSOL
from smart_trader_tests.records_samples import (
    DAY,
    DELETE,
    END,
    NOW,
    START,
    TOKEN,
    WALLET,
    on_curve,
    swap_item,
)


def reject_reason(record: object) -> str:
    with pytest.raises(Rejection) as info:
        parse_swap(record, WALLET)
    return str(info.value)


def test_swap_is_normalised_by_type_swap_not_base_quote() -> None:
    row = parse_swap(swap_item(), WALLET)
    assert row["sold_token_address"] == WSOL and row["sold_token_symbol"] == "SOL"
    assert row["sold_amount"] == 1.5 and row["sold_price_usd"] == 150.12
    assert row["bought_token_address"] == TOKEN and row["bought_amount"] == 18300.0
    assert row["bought_price_usd"] == 0.0123
    assert row["block_time"] == dt.datetime.fromtimestamp(1773100000, dt.UTC)
    assert (row["ins_index"], row["inner_ins_index"], row["block_number"]) == (2, 0, 359226070)
    # Same trade with the pool oriented the other way: same row.
    flipped = swap_item()
    flipped["base"], flipped["quote"] = flipped["quote"], flipped["base"]
    assert parse_swap(flipped, WALLET) == row


def test_swap_numbers_as_strings_native_sol_and_fallbacks() -> None:
    row = parse_swap(
        swap_item(
            quote__address=NATIVE_SOL,
            quote__ui_change_amount="-1.5",
            quote__price="bad",
            quote__nearest_price="150.1",
            base__ui_change_amount=DELETE,
            base__ui_amount="18300",
            base__price=0,
            base__nearest_price=None,
            block_number="359226070",
            inner_ins_index=DELETE,
        ),
        WALLET,
    )
    assert row["sold_token_address"] == WSOL  # the native-SOL pseudo-mint is stored as wSOL
    assert row["sold_amount"] == 1.5 and row["sold_price_usd"] == 150.1
    assert row["bought_amount"] == 18300.0 and row["bought_price_usd"] is None
    assert row["block_number"] == 359226070 and row["inner_ins_index"] == -1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"owner": on_curve()}, "owner_mismatch"),
        ({"base__address": WSOL}, "same_token_both_legs"),
        ({"base__address": NATIVE_SOL}, "same_token_both_legs"),
        ({"quote__ui_change_amount": 1.5}, "sign_contradicts_type_swap: quote.ui_change_amount"),
        ({"base__ui_change_amount": -5}, "sign_contradicts_type_swap: base.ui_change_amount"),
        ({"base__ui_change_amount": 0}, "invalid_amount: base.ui_change_amount"),
        ({"base__ui_change_amount": "NaN"}, "invalid_amount: base.ui_change_amount"),
        ({"base__ui_change_amount": True}, "invalid_amount: base.ui_change_amount"),
        (
            {"base__ui_change_amount": DELETE, "base__ui_amount": DELETE},
            "missing_field: base.ui_amount",
        ),
        ({"base__type_swap": "sideways"}, "unknown_type_swap: base.type_swap"),
        (
            {"base__type_swap": "from", "base__ui_change_amount": -18300.0},
            "type_swap: both legs are 'from'",
        ),
        ({"tx_hash": DELETE}, "missing_field: tx_hash"),
        ({"tx_hash": None}, "missing_field: tx_hash"),
        ({"block_unix_time": "soon"}, "invalid_number: block_unix_time"),
        ({"block_unix_time": 1e300}, "invalid_time: block_unix_time"),
        ({"ins_index": 1.5}, "invalid_integer: ins_index"),
        ({"base": None}, "missing_field: base"),
        ({"owner": DELETE}, "missing_field: owner"),
        ({"source": DELETE}, "missing_field: source"),
    ],
)
def test_swap_rejections_name_field_and_rule(overrides: dict[str, Any], reason: str) -> None:
    assert reject_reason(swap_item(**overrides)).startswith(reason)


def test_non_object_record_is_rejected() -> None:
    assert reject_reason(["not", "a", "record"]).startswith("not_an_object")


def swap_collector(max_swaps: int = 1000) -> tuple[SwapCollector, Ledger]:
    ledger = Ledger(TRADER_TXS, DAY)
    return SwapCollector(WALLET, START, END, max_swaps, ledger), ledger


def test_swap_collector_accounts_for_every_record() -> None:
    collector, ledger = swap_collector()
    good = [swap_item(tx_hash=f"tx{i}", block_unix_time=1773100000 - i) for i in range(5)]
    bad = swap_item(owner=on_curve())
    too_new = swap_item(tx_hash="new", block_unix_time=int(END.timestamp()))
    too_old = swap_item(tx_hash="old", block_unix_time=int(START.timestamp()) - 1)
    at_start = swap_item(tx_hash="start", block_unix_time=int(START.timestamp()))
    not_swap = swap_item(tx_hash="add", tx_type="add")
    collector.add_page([*good[:3], bad, too_new], NOW)
    collector.add_page([good[2], *good[3:], too_old, at_start, not_swap], NOW)  # good[2] again
    rows = collector.rows(DAY)
    counts = ledger.counts()
    assert counts == EndpointCounts(
        received=11, stored=6, rejected=1, filtered=3, merged=0, duplicate=1
    )
    assert {r["tx_hash"] for r in rows} == {"tx0", "tx1", "tx2", "tx3", "tx4", "start"}
    assert not any(r["fetch_truncated"] for r in rows)
    result = transaction_history_result(DAY, [], ledger)
    assert result.rejected.height == 1
    rejected = result.rejected.row(0, named=True)
    assert rejected["reason"] == "owner_mismatch" and rejected["endpoint"] == TRADER_TXS
    assert json.loads(rejected["raw_record"]) == bad
    assert rejected["raw_record"] == json.dumps(bad, separators=(",", ":"))


def test_swap_collector_truncates_to_newest_and_flags() -> None:
    collector, ledger = swap_collector(max_swaps=3)
    items = [swap_item(tx_hash=f"tx{i}", block_unix_time=1773100000 - i) for i in range(5)]
    collector.add_page(items[:4], NOW)
    assert collector.over_limit
    rows = collector.rows(DAY)
    assert [r["tx_hash"] for r in rows] == ["tx0", "tx1", "tx2"]
    assert all(r["fetch_truncated"] for r in rows)
    assert ledger.counts() == EndpointCounts(received=4, stored=3, filtered=1)
    frame = transaction_history_result(DAY, [], ledger).frame
    assert schemas.schema_problems(frame.schema, schemas.TRANSACTION_HISTORY) == []


def test_transaction_history_frame_is_conformed() -> None:
    collector, ledger = swap_collector()
    collector.add_page([swap_item(inner_ins_index=None)], NOW)
    result = transaction_history_result(DAY, [collector], ledger)
    assert result.frame.schema == schemas.TRANSACTION_HISTORY.schema
    row = result.frame.row(0, named=True)
    assert row["ingest_date"] == DAY and row["inner_ins_index"] == -1
    assert row["fetch_truncated"] is False
    assert result.counts == {TRADER_TXS: EndpointCounts(received=1, stored=1)}


_MUTATIONS: list[tuple[str, Any]] = [
    ("owner", "x"),
    ("base__ui_change_amount", -1),
    ("quote__type_swap", "maybe"),
    ("tx_hash", None),
    ("base__address", WSOL),
    ("block_unix_time", 1),
    ("tx_type", "add"),
    ("quote__price", None),
    ("base__ui_change_amount", "7"),
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40), st.one_of(st.none(), st.sampled_from(range(len(_MUTATIONS))))
        ),
        max_size=60,
    ),
    st.integers(1, 30),
)
def test_every_record_is_accounted_for(spec: list[tuple[int, int | None]], cap: int) -> None:
    """Whatever arrives, received = stored + rejected + filtered + merged + duplicate, and the
    frame holds exactly the stored rows, the rejected table exactly the rejected ones."""
    ledger = Ledger(TRADER_TXS, DAY)
    collector = SwapCollector(WALLET, START, END, cap, ledger)
    page = []
    for n, mutation in spec:
        item = copy.deepcopy(swap_item(tx_hash=f"tx{n}", block_unix_time=1773100000 - n))
        if mutation is not None:
            path, value = _MUTATIONS[mutation]
            item = swap_item(
                **{"tx_hash": f"tx{n}", "block_unix_time": 1773100000 - n, path: value}
            )
        page.append(item)
    collector.add_page(page, NOW)
    result = transaction_history_result(DAY, [collector], ledger)
    counts = result.counts[TRADER_TXS]
    assert counts.received == len(spec)
    assert counts.stored == result.frame.height <= cap
    assert counts.rejected == result.rejected.height
    assert result.frame.select(schemas.TRANSACTION_HISTORY.key).is_duplicated().sum() == 0
    assert pl.Series(result.frame.get_column("fetch_truncated")).n_unique() <= 1
