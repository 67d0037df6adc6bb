"""The webhook parser: a swap is the fee payer's net change per mint, whatever `type` says."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest

from smart_trader.receiver.parse import (
    FAILED,
    NOT_A_SWAP,
    SEVERAL_MINTS,
    SWAP,
    BodyError,
    Event,
    Rejected,
    Swap,
    parse_body,
    parse_item,
    split_items,
)
from smart_trader.receiver.positions import priced, trades_since
from smart_trader.schemas import LIVE_SWAPS, TRANSACTION_HISTORY
from smart_trader.settings import NATIVE_SOL, USDC, WSOL

W = "MASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTA"
POOL = "yNoVKf58ZTBqNAYT3j5qcdsyuMNmPfYetW5v6JXmj54o"
OTHER = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
MEME = "b8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaY"
MID = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"
W_WSOL_ACCOUNT = "WsoLAcc0untOfWa11etxxxxxxxxxxxxxxxxxxxxxxxx"


def token(sender: str, receiver: str, amount: float, mint: str, **kw: str) -> dict[str, Any]:
    return {
        "fromUserAccount": sender,
        "toUserAccount": receiver,
        "tokenAmount": amount,
        "mint": mint,
        **kw,
    }


def native(sender: str, receiver: str, lamports: int) -> dict[str, Any]:
    return {"fromUserAccount": sender, "toUserAccount": receiver, "amount": lamports}


def item(
    tokens: list[dict[str, Any]], natives: list[dict[str, Any]] | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "signature": "sig1",
        "feePayer": W,
        "timestamp": 1773446460,
        "slot": 1,
        "type": "UNKNOWN",
        "source": "METEORA_DAMM_V2",
        "fee": 5000,
        "tokenTransfers": tokens,
        "nativeTransfers": natives or [],
        "accountData": [],
        "transactionError": None,
        "events": [],
        **kw,
    }


def event(raw: dict[str, Any]) -> Event:
    parsed = parse_item(json.dumps(raw))
    assert isinstance(parsed, Event), parsed
    return parsed


def test_a_transfer_typed_trade_without_events_is_a_swap() -> None:
    e = event(item([token(POOL, W, 250.0, MEME)], [native(W, POOL, 2_000_000_000)]))
    assert e.swap_status == SWAP
    assert e.swap == Swap(WSOL, 2.0, MEME, 250.0)
    assert e.block_time == dt.datetime(2026, 3, 14, 0, 1, tzinfo=dt.UTC)


def test_a_pump_sell_typed_sell_is_a_swap_the_other_way() -> None:
    e = event(item([token(W, POOL, 10.0, MEME)], [native(POOL, W, 500_000_000)], type="SELL"))
    assert e.swap == Swap(MEME, 10.0, WSOL, 0.5)


def test_wrapping_sol_into_the_wallets_own_account_is_not_a_trade() -> None:
    # SOL wrapped into W's wSOL account (a native transfer to its own token account), then wSOL
    # and rent moved: only the wSOL leg counts, once.
    tokens = [
        token(W, POOL, 1.5, WSOL, fromTokenAccount=W_WSOL_ACCOUNT, toTokenAccount="poolwsol"),
        token(POOL, W, 100.0, MEME, fromTokenAccount="poolmeme", toTokenAccount="wmeme"),
    ]
    natives = [native(W, W_WSOL_ACCOUNT, 1_500_000_000), native(W, "wmeme", 2_039_280)]
    e = event(item(tokens, natives))
    assert e.swap == Swap(WSOL, 1.5, MEME, 100.0)


def test_the_native_pseudo_mint_is_wsol() -> None:
    e = event(item([token(W, POOL, 3.0, NATIVE_SOL), token(POOL, W, 7.0, MEME)]))
    assert e.swap == Swap(WSOL, 3.0, MEME, 7.0)


def test_an_intermediate_token_of_a_route_nets_out() -> None:
    tokens = [
        token(W, POOL, 20.0, USDC),
        token(POOL, W, 5.0, MID),
        token(W, OTHER, 5.0, MID),
        token(OTHER, W, 900.0, MEME),
    ]
    assert event(item(tokens)).swap == Swap(USDC, 20.0, MEME, 900.0)


def test_failed_transfers_only_and_several_mints_give_no_swap() -> None:
    failed = item(
        [token(POOL, W, 1.0, MEME)],
        [native(W, POOL, 10)],
        transactionError={"InstructionError": [2, {"Custom": 30}]},
    )
    assert event(failed).swap_status == FAILED and event(failed).swap is None
    assert event(failed).transaction_error == '{"InstructionError": [2, {"Custom": 30}]}'
    assert event(item([token(W, OTHER, 1.0, MEME)])).swap_status == NOT_A_SWAP
    two = item([token(W, POOL, 1.0, MEME), token(W, POOL, 1.0, MID), token(POOL, W, 5.0, USDC)])
    assert event(two).swap_status == SEVERAL_MINTS and event(two).swap is None
    # someone else's transaction paying the wallet: nothing decreased for the fee payer
    assert event(item([token(OTHER, W, 3.0, MEME)], feePayer=OTHER)).swap_status == NOT_A_SWAP


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"signature": None}, "signature: missing or not a non-empty string"),
        ({"timestamp": "1773446460"}, "timestamp: missing or not a non-negative integer"),
        ({"slot": -1}, "slot: missing or not a non-negative integer"),
        ({"feePayer": ""}, "feePayer: missing or not a non-empty string"),
        ({"tokenTransfers": {}}, "tokenTransfers: not an array"),
        (
            {"nativeTransfers": [native(W, POOL, -5)]},
            "nativeTransfers[0].amount: not a finite amount >= 0",
        ),
        (
            {"tokenTransfers": [{"tokenAmount": 1.0}]},
            "tokenTransfers[0].mint: missing or not a non-empty string",
        ),
    ],
)
def test_a_malformed_item_is_rejected_naming_the_field(change: dict[str, Any], reason: str) -> None:
    raw = json.dumps({**item([token(POOL, W, 1.0, MEME)]), **change})
    assert parse_item(raw) == Rejected(reason, raw)


def test_items_are_kept_exactly_as_received() -> None:
    body = ' [ {"a": "é",  "b": [1, 2]} ,\n"x", 3.50 ] '.encode()
    assert [raw for raw, _ in split_items(body)] == ['{"a": "é",  "b": [1, 2]}', '"x"', "3.50"]
    assert split_items(b"[]") == []
    for bad in (b"{}", b"[1,", b"[1] 2", b"\xff"):
        with pytest.raises(BodyError):
            split_items(bad)
    assert parse_body(b"[1] x") == [Rejected("body: body has data after the JSON array", "[1] x")]


def swaps_frame(rows: list[dict[str, Any]], spec: Any) -> pl.DataFrame:
    base = {
        "block_number": 1,
        "ins_index": 0,
        "inner_ins_index": -1,
        "source": "raydium",
        "sold_token_symbol": "",
        "bought_token_symbol": "",
        "fetched_at": dt.datetime(2026, 3, 15, tzinfo=dt.UTC),
        "fetch_truncated": False,
        "sold_price_usd": None,
        "bought_price_usd": None,
    }
    frame = pl.DataFrame([{**base, **r} for r in rows])
    column = spec.partition_column
    frame = frame.with_columns(pl.col("block_time").dt.date().alias(column))
    return frame.select(spec.schema.names()).cast(dict(spec.schema))


def test_the_history_wins_a_transaction_both_have_and_fills_the_gap() -> None:
    t = dt.datetime(2026, 3, 15, 10, tzinfo=dt.UTC)
    leg = {"sold_token_address": WSOL, "sold_amount": 1.0, "bought_token_address": MEME}
    live = swaps_frame(
        [
            {**leg, "tx_hash": "a", "wallet_address": W, "block_time": t, "bought_amount": 5.0},
            {**leg, "tx_hash": "c", "wallet_address": W, "block_time": t, "bought_amount": 7.0},
        ],
        LIVE_SWAPS,
    )
    history = swaps_frame(
        [
            {
                **leg,
                "tx_hash": "a",
                "wallet_address": W,
                "block_time": t,
                "bought_amount": 5.0,
                "sold_price_usd": 150.0,
            },
            {
                **leg,
                "tx_hash": "b",
                "wallet_address": W,
                "block_time": t,
                "bought_amount": 6.0,
                "sold_price_usd": 151.0,
            },
            {
                **leg,
                "tx_hash": "old",
                "wallet_address": W,
                "block_time": t - dt.timedelta(days=1),
                "bought_amount": 1.0,
            },
        ],
        TRANSACTION_HISTORY,
    )
    watched = pl.DataFrame(
        {"rank": [1], "wallet_address": [W]}, schema={"rank": pl.Int32, "wallet_address": pl.String}
    )
    since = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    trades = trades_since(live, history, watched, since).sort("tx_hash")
    assert trades["tx_hash"].to_list() == ["a", "b", "c"]
    assert trades["sold_price_usd"].to_list() == [150.0, 151.0, None]
    # a live leg takes its token's latest price in the history
    prices = pl.DataFrame({"token_address": [WSOL], "price_usd": [151.0]})
    assert priced(trades, prices)["sold_price_usd"].to_list() == [150.0, 151.0, 151.0]
