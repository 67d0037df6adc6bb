"""BirdEye records as the reference examples show them, shared by the test_records* modules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from solders.keypair import Keypair

from smart_trader.settings import WSOL

DAY = dt.date(2026, 3, 10)
NOW = dt.datetime(2026, 3, 11, 1, 0, tzinfo=dt.UTC)
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 3, 11, tzinfo=dt.UTC)
WALLET = "MASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTA"
TOKEN = "b8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaY"


def on_curve() -> str:
    return str(Keypair().pubkey())


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
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return item


DELETE = object()


def holder(owner: str, account: str, ui_amount: Any, **extra: Any) -> dict[str, Any]:
    return {
        "amount": "1", "decimals": 6, "mint": TOKEN, "owner": owner,
        "token_account": account, "ui_amount": ui_amount, **extra,
    }  # fmt: skip
