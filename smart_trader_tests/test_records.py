"""Parsing of BirdEye records into the bronze tables (smart_trader.ingest, pure)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from smart_trader import schemas
from smart_trader.ingest.holders import HOLDERS, HolderCollector, whale_holders_result
from smart_trader.ingest.ledger import EndpointCounts, Ledger, Outcome, Rejection
from smart_trader.ingest.prices import MULTI_PRICE, PriceCollector
from smart_trader.ingest.swaps import (
    TRADER_TXS,
    SwapCollector,
    parse_swap,
    transaction_history_result,
)
from smart_trader.ingest.token_list import TOKEN_LIST, TokenListCollector, token_list_params
from smart_trader.settings import NATIVE_SOL, USDC, WSOL, Settings, TokenFilters

DAY = dt.date(2026, 3, 10)
NOW = dt.datetime(2026, 3, 11, 1, 0, tzinfo=dt.UTC)
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 3, 11, tzinfo=dt.UTC)
WALLET = "MASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTA"
TOKEN = "b8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaY"


def on_curve() -> str:
    return str(Keypair().pubkey())


def off_curve(seed: bytes) -> str:
    return str(
        Pubkey.find_program_address([seed], Pubkey.from_string("11111111111111111111111111111111"))[
            0
        ]
    )


def swap_item(**overrides: Any) -> dict[str, Any]:
    """The reference example (external-apis.md 2.5): the wallet buys EXMPL with 1.5 SOL."""
    item: dict[str, Any] = {
        "quote": {
            "symbol": "SOL", "decimals": 9, "address": WSOL, "amount": 1500000000,
            "type": "transfer", "type_swap": "from", "ui_amount": 1.5, "price": 150.12,
            "nearest_price": 150.1, "change_amount": -1500000000, "ui_change_amount": -1.5,
            "is_scaled_ui_token": False, "multiplier": None,
        },
        "base": {
            "symbol": "EXMPL", "decimals": 6, "address": TOKEN, "amount": 18300000000,
            "type": "transfer", "type_swap": "to", "ui_amount": 18300.0, "price": 0.0123,
            "nearest_price": 0.01229, "change_amount": 18300000000, "ui_change_amount": 18300.0,
            "is_scaled_ui_token": False, "multiplier": None,
        },
        "base_price": 0.0123, "quote_price": 150.12,
        "tx_hash": "nTPkyRFA6CAFjF1YveCHK1ATbQgdM9mwZgikp4WzxrxktcSSSS7XhS4D5EVB8Nf471dAb7Qg25xE",
        "source": "raydium", "block_unix_time": 1773100000, "tx_type": "swap",
        "address": "yNoVKf58ZTBqNAYT3j5qcdsyuMNmPfYetW5v6JXmj54o", "owner": WALLET,
        "block_number": 359226070, "volume_usd": 225.09, "volume": 18300.0,
        "ins_index": 2, "inner_ins_index": 0,
    }  # fmt: skip
    for path, value in overrides.items():
        target = item
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return item


_DELETE = object()


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
            base__ui_change_amount=_DELETE,
            base__ui_amount="18300",
            base__price=0,
            base__nearest_price=None,
            block_number="359226070",
            inner_ins_index=_DELETE,
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
            {"base__ui_change_amount": _DELETE, "base__ui_amount": _DELETE},
            "missing_field: base.ui_amount",
        ),
        ({"base__type_swap": "sideways"}, "unknown_type_swap: base.type_swap"),
        (
            {"base__type_swap": "from", "base__ui_change_amount": -18300.0},
            "type_swap: both legs are 'from'",
        ),
        ({"tx_hash": _DELETE}, "missing_field: tx_hash"),
        ({"tx_hash": None}, "missing_field: tx_hash"),
        ({"block_unix_time": "soon"}, "invalid_number: block_unix_time"),
        ({"ins_index": 1.5}, "invalid_integer: ins_index"),
        ({"base": None}, "missing_field: base"),
        ({"owner": _DELETE}, "missing_field: owner"),
        ({"source": _DELETE}, "missing_field: source"),
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


def token_item(address: str, liquidity: float, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "address": address, "symbol": "TOK", "name": "Token", "decimals": 6, "price": 0.5,
        "liquidity": liquidity, "market_cap": 5e6, "fdv": None, "volume_1h_usd": 2e5,
        "volume_24h_usd": 3e6, "price_change_2h_percent": 1.0,
        "price_change_24h_percent": 40.0, "holder": 1234, "last_trade_unix_time": 1773100000,
    }  # fmt: skip
    item.update(overrides)
    return item


def test_token_list_filters_quotes_rejections_and_top_n() -> None:
    settings = Settings(tokens_per_day=3)
    collector = TokenListCollector(DAY, settings, "sandbox")
    a, b, c, d = (on_curve() for _ in range(4))
    low, high = sorted([a, b])
    page = [
        token_item(USDC, 2.9e6),  # quote asset: never a tracked token
        token_item(low, 2.5e6),
        token_item(high, 2.5e6),  # tie on liquidity: token_address ascending
        token_item(c, 2.0e6, price="0.25"),  # numbers as strings
        token_item(d, 1.5e6),  # fourth by liquidity: cut by tokens_per_day
        token_item(on_curve(), 1.4e6, price=0),  # invalid price: rejected
        token_item(on_curve(), 1.3e6, volume_1h_usd=99_999.0),  # local re-check of filters
        token_item(on_curve(), 1e6, price_change_24h_percent=30.0),  # inclusive bound: kept
        token_item(on_curve(), 1.2e6, symbol=None),  # missing field: rejected
        token_item(low, 2.5e6),  # duplicate across pages
    ]
    collector.add_page(page[:5], NOW)
    collector.add_page(page[5:], NOW)
    result = collector.finish()
    assert result.frame.get_column("token_address").to_list() == [low, high, c]
    assert result.frame.schema == schemas.TOKEN_METRICS.schema
    row = result.frame.row(2, named=True)
    assert row["price_usd"] == 0.25 and row["data_source"] == "sandbox"
    assert row["fdv_usd"] is None and row["holder_count"] == 1234
    assert row["last_trade_at"] == dt.datetime.fromtimestamp(1773100000, dt.UTC)
    assert result.counts[TOKEN_LIST] == EndpointCounts(
        received=10, stored=3, rejected=2, filtered=4, duplicate=1
    )
    reasons = sorted(result.rejected.get_column("reason").to_list())
    assert reasons == ["invalid_price: price must be finite and > 0", "missing_field: symbol"]


def test_token_list_knows_when_top_n_is_settled() -> None:
    collector = TokenListCollector(DAY, Settings(tokens_per_day=2), "birdeye")
    collector.add_page([token_item(on_curve(), 2e6), token_item(on_curve(), 1.8e6)], NOW)
    assert not collector.enough(1.8e6)  # a tie with the 2nd could still come
    assert collector.enough(1.7e6)


def test_token_list_params_are_the_inclusive_server_filters() -> None:
    params = token_list_params(Settings(token_filters=TokenFilters(min_volume_1h_usd=5)))
    assert params == {
        "sort_by": "liquidity",
        "sort_type": "desc",
        "min_liquidity": 1_000_000.0,
        "max_liquidity": 3_000_000.0,
        "min_volume_1h_usd": 5.0,
        "min_price_change_2h_percent": 0.0,
        "min_price_change_24h_percent": 30.0,
        "ui_amount_mode": "raw",
    }


def holder(owner: str, account: str, ui_amount: Any, **extra: Any) -> dict[str, Any]:
    return {
        "amount": "1", "decimals": 6, "mint": TOKEN, "owner": owner,
        "token_account": account, "ui_amount": ui_amount, **extra,
    }  # fmt: skip


def test_holders_exclusions_merges_duplicates_and_ranks() -> None:
    exchange = on_curve()
    settings = Settings(holders_per_token=3, excluded_wallets={exchange: "exchange"})
    ledger = Ledger(HOLDERS, DAY)
    collector = HolderCollector(TOKEN, 2.0, settings, ledger)
    w1, w2, w3, w4 = sorted(on_curve() for _ in range(4))
    pool = off_curve(b"pool")
    collector.add_page(
        [
            holder(pool, "acc-pool", 1e9),  # program-derived: filtered
            holder(exchange, "acc-ex", 1e8),  # denylist: filtered
            holder(w3, "acc-3a", 300),
            holder(w1, "acc-1", 500),
            holder(w2, "acc-2", "500"),  # tie with w1: wallet ascending
            holder(w3, "acc-3b", 250.0),  # second account of w3: merged (550 total)
        ],
        NOW,
    )
    collector.add_page(
        [
            holder(w3, "acc-3b", 250.0),  # the same token account again: duplicate
            holder(w4, "acc-4", 10),  # fourth owner: beyond holders_per_token
            holder(on_curve(), "acc-x", 0),  # invalid amount
            holder(on_curve(), "acc-y", 5, mint=USDC),  # another token's account
            holder("not-base58!", "acc-z", 5),
            {"owner": on_curve(), "ui_amount": 5},  # no token_account
            holder(on_curve(), "acc-raw", None, amount="2500000"),  # ui_amount from raw amount
        ],
        NOW,
    )
    assert collector.kept_owners == 5
    result = whale_holders_result(DAY, [collector], ledger)
    frame = result.frame
    assert frame.schema == schemas.WHALE_HOLDERS.schema
    assert frame.select("wallet_address", "rank", "ui_amount", "value_usd").rows() == [
        (w3, 1, 550.0, 1100.0),
        (w1, 2, 500.0, 1000.0),
        (w2, 3, 500.0, 1000.0),
    ]
    assert result.counts[HOLDERS] == EndpointCounts(
        received=13, stored=3, rejected=4, filtered=4, merged=1, duplicate=1
    )
    assert sorted(r.split(":")[0] for r in result.rejected.get_column("reason")) == [
        "invalid_address",
        "invalid_amount",
        "mint_mismatch",
        "missing_field",
    ]


def test_prices_unknown_absent_invalid_rejected() -> None:
    collector = PriceCollector(DAY)
    a, b, c, d = (on_curve() for _ in range(4))
    collector.add_batch(
        [a, b, c],
        {a: {"value": 1.25, "updateUnixTime": 1}, b: None, c: {"value": -1}, d: {"value": 3}},
        NOW,
    )
    result = collector.finish()
    assert result.frame.rows() == [(DAY, a, 1.25, NOW)]
    assert result.counts[MULTI_PRICE] == EndpointCounts(
        received=4, stored=1, rejected=1, filtered=2
    )
    assert json.loads(result.rejected.get_column("raw_record")[0]) == {c: {"value": -1}}


def test_counts_identity_is_asserted() -> None:
    with pytest.raises(AssertionError, match="record accounting broken"):
        EndpointCounts(received=3, stored=1)
    ledger = Ledger(TRADER_TXS, DAY)
    ledger.record(Outcome.FILTERED)
    with pytest.raises(AssertionError):
        ledger.reclassify(Outcome.STORED, Outcome.FILTERED)


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


def test_rows_repeated_from_a_neighbouring_page_are_duplicates_wherever_paging_stops() -> None:
    """A server that repeats a neighbouring page's row (the next page's first row appended to
    or put before a page, the previous page's last row before the last page): every row is
    counted once, and stopping after page k gives exactly the rows of pages 1..k."""
    owners = [on_curve() for _ in range(250)]
    rows = [holder(owners[i], f"acc{i}", 1000.0 - i) for i in range(250)]
    pages = [
        [*rows[0:100], rows[100]],  # first page + next page's first row
        [rows[200], *rows[100:200]],  # middle page, next page's first row put first
        [rows[199], *rows[200:250]],  # last page, previous page's last row put first
    ]
    settings = Settings(holders_per_token=1000)
    for read in (1, 2, 3):
        ledger = Ledger(HOLDERS, DAY)
        collector = HolderCollector(TOKEN, 1.0, settings, ledger)
        for page in pages[:read]:
            collector.add_page(page, NOW, page_size=100)
        result = whale_holders_result(DAY, [collector], ledger)
        assert result.frame.get_column("wallet_address").to_list() == owners[: 100 * read]
        assert result.counts[HOLDERS] == EndpointCounts(
            received=sum(map(len, pages[:read])), stored=min(100 * read, 250), duplicate=read
        )
