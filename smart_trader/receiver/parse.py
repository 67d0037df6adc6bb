"""Helius enhanced transactions as delivered to the webhook: items, events and swaps (no I/O).

A delivery body is a JSON array of enhanced transactions (external-apis.md §3.5). Each item is
kept exactly as received (its byte span in the body) and parsed into:
- a webhook event: signature, wallet (the fee payer, who signed it), block time, slot, type,
  source, error, and what the swap rule made of it (swap_status);
- at most one live swap of that wallet, in transaction_history's columns, derived from the
  wallet's net change per mint over `tokenTransfers` and `nativeTransfers`: the mint whose
  balance decreased was sold, the one that increased was bought. `type` and `events.swap` are
  not read: real payloads type Meteora DBC / DAMM v2 trades TRANSFER or UNKNOWN with
  `events: []`, and many SWAPs carry no `events.swap` (§7).

Rules of the net change (the wallet W is the item's feePayer):
- native SOL (lamports / 1e9) and the native pseudo-mint count as wSOL, as in transaction_history;
- lamports moved between W and one of W's own token accounts (wrapping SOL, rent of a new token
  account) are not a trade and are ignored; W's token accounts are those the item names as W's;
- a mint whose net change is within DUST (relative to the amounts moved) did not change;
- a failed transaction (transactionError not null) gives no swap (`failed`); a transaction with
  nothing decreased or nothing increased gives none (`not_a_swap`); one with several mints on a
  side gives none (`several_mints`): without prices the legs cannot be paired, and the day's
  trade history reconciles it.

An item that breaks a field rule (a missing signature, a non-numeric amount, ...) is rejected
with the reason naming the field; the rest of the body is kept.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from smart_trader.settings import NATIVE_SOL, WSOL

ENDPOINT = "/helius webhook"
LAMPORTS_PER_SOL = 1_000_000_000
DUST = 1e-9
SWAP, FAILED, NOT_A_SWAP, SEVERAL_MINTS = "swap", "failed", "not_a_swap", "several_mints"
SWAP_STATUSES = (SWAP, FAILED, NOT_A_SWAP, SEVERAL_MINTS)
# The webhook asks for the types real trades arrive as (§7: Pump AMM as BUY/SELL, Meteora DBC and
# DAMM v2 as TRANSFER or UNKNOWN); the swap rule reads transfers, whatever the type.
WEBHOOK_TRANSACTION_TYPES = ("SWAP", "BUY", "SELL", "TRANSFER", "UNKNOWN")
# Live swaps are one row per (transaction, wallet): position 0, no inner instruction.
LIVE_INS_INDEX, LIVE_INNER_INS_INDEX = 0, -1

_decoder = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


class BodyError(ValueError):
    """The body is not a JSON array; the receiver answers 400."""


class ItemError(ValueError):
    """An item breaks a field rule; the message names the field."""


@dataclass(frozen=True)
class Swap:
    sold_token_address: str
    sold_amount: float
    bought_token_address: str
    bought_amount: float


@dataclass(frozen=True)
class Event:
    signature: str
    wallet_address: str
    block_time: dt.datetime
    slot: int
    type: str | None
    source: str | None
    fee_lamports: int | None
    transaction_error: str | None
    swap_status: str
    swap: Swap | None
    raw_item: str


@dataclass(frozen=True)
class Rejected:
    reason: str
    raw_record: str


def parse_body(body: bytes) -> list[Event | Rejected]:
    """Every item of a delivery; a body that is not a JSON array is one rejected record."""
    try:
        items = split_items(body)
    except BodyError as exc:
        return [Rejected(f"body: {exc}", body.decode("utf-8", "replace"))]
    return [_parsed(raw, value) for raw, value in items]


def split_items(body: bytes) -> list[tuple[str, Any]]:
    """(text exactly as received, decoded value) of each item of a JSON array body;
    BodyError if the body is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("body is not UTF-8") from None
    i = _skip(text, 0)
    if i >= len(text) or text[i] != "[":
        raise BodyError("body is not a JSON array")
    items: list[tuple[str, Any]] = []
    i = _skip(text, i + 1)
    if i < len(text) and text[i] == "]":
        return _end(text, i + 1, items)
    while True:
        try:
            value, end = _decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError) as exc:
            where = f": {exc.msg} at {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
            raise BodyError(f"body is not valid JSON{where}") from None
        items.append((text[i:end], value))
        i = _skip(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip(text, i + 1)
            continue
        if i < len(text) and text[i] == "]":
            return _end(text, i + 1, items)
        raise BodyError(f"body is not valid JSON: expected ',' or ']' at {i}")


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _end(text: str, i: int, items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    if _skip(text, i) != len(text):
        raise BodyError("body has data after the JSON array")
    return items


def parse_item(raw: str) -> Event | Rejected:
    """One item's text: its event (with its swap, if any), or the reason it is rejected."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return Rejected("item is not valid JSON", raw)
    return _parsed(raw, value)


def _parsed(raw: str, value: Any) -> Event | Rejected:
    try:
        return _event(value, raw)
    except ItemError as exc:
        return Rejected(str(exc), raw)


def _event(item: Any, raw: str) -> Event:
    if not isinstance(item, dict):
        raise ItemError("item is not a JSON object")
    signature = _text(item, "signature")
    wallet = _text(item, "feePayer")
    timestamp = _integer(item, "timestamp")
    slot = _integer(item, "slot")
    fee = item.get("fee")
    if fee is not None and not _is_int(fee):
        raise ItemError("fee: not an integer")
    error = item.get("transactionError")
    status, swap = SWAP, None
    net = _net_changes(item, wallet)
    if error is not None:
        status = FAILED
    else:
        sold = sorted(m for m, change in net.items() if change < 0)
        bought = sorted(m for m, change in net.items() if change > 0)
        if not sold or not bought:
            status = NOT_A_SWAP
        elif len(sold) > 1 or len(bought) > 1:
            status = SEVERAL_MINTS
        else:
            swap = Swap(sold[0], -net[sold[0]], bought[0], net[bought[0]])
    return Event(
        signature=signature,
        wallet_address=wallet,
        block_time=dt.datetime.fromtimestamp(timestamp, dt.UTC),
        slot=slot,
        type=_optional_text(item, "type"),
        source=_optional_text(item, "source"),
        fee_lamports=fee,
        transaction_error=None if error is None else json.dumps(error, sort_keys=True),
        swap_status=status,
        swap=swap,
        raw_item=raw,
    )


def _net_changes(item: dict[str, Any], wallet: str) -> dict[str, float]:
    """The wallet's net change per mint (UI units), dust removed."""
    net: dict[str, float] = {}
    moved: dict[str, float] = {}
    own_accounts: set[str] = set()

    def add(mint: str, amount: float) -> None:
        net[mint] = net.get(mint, 0.0) + amount
        moved[mint] = moved.get(mint, 0.0) + abs(amount)

    transfers = _list(item, "tokenTransfers")
    for k, t in enumerate(transfers):
        where = f"tokenTransfers[{k}]"
        if not isinstance(t, dict):
            raise ItemError(f"{where}: not an object")
        mint = _text(t, "mint", where)
        amount = _amount(t, "tokenAmount", where)
        sender, receiver = t.get("fromUserAccount"), t.get("toUserAccount")
        if sender == wallet and isinstance(t.get("fromTokenAccount"), str):
            own_accounts.add(t["fromTokenAccount"])
        if receiver == wallet and isinstance(t.get("toTokenAccount"), str):
            own_accounts.add(t["toTokenAccount"])
        mint = WSOL if mint == NATIVE_SOL else mint
        if sender == wallet:
            add(mint, -amount)
        if receiver == wallet:
            add(mint, amount)
    for account in _list(item, "accountData"):
        if isinstance(account, dict):
            for change in account.get("tokenBalanceChanges") or []:
                if (
                    isinstance(change, dict)
                    and change.get("userAccount") == wallet
                    and isinstance(change.get("tokenAccount"), str)
                ):
                    own_accounts.add(change["tokenAccount"])
    for k, t in enumerate(_list(item, "nativeTransfers")):
        where = f"nativeTransfers[{k}]"
        if not isinstance(t, dict):
            raise ItemError(f"{where}: not an object")
        lamports = _amount(t, "amount", where)
        sender, receiver = t.get("fromUserAccount"), t.get("toUserAccount")
        if sender == wallet and receiver not in own_accounts and receiver != wallet:
            add(WSOL, -lamports / LAMPORTS_PER_SOL)
        if receiver == wallet and sender not in own_accounts and sender != wallet:
            add(WSOL, lamports / LAMPORTS_PER_SOL)
    return {m: c for m, c in net.items() if abs(c) > DUST * moved[m]}


def _text(obj: dict[str, Any], name: str, where: str = "") -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        field = f"{where}.{name}" if where else name
        raise ItemError(f"{field}: missing or not a non-empty string")
    return value


def _optional_text(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise ItemError(f"{name}: not a string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ItemError(f"{name}: missing or not a non-negative integer")
    return value


def _amount(obj: dict[str, Any], name: str, where: str) -> float:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ItemError(f"{where}.{name}: missing or not a number")
    if not math.isfinite(value) or value < 0:
        raise ItemError(f"{where}.{name}: not a finite amount >= 0")
    return float(value)


def _list(obj: dict[str, Any], name: str) -> list[Any]:
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ItemError(f"{name}: not an array")
    return value
