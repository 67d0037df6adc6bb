"""transaction_history(D) from /trader/txs/seek_by_time: parser, collector (one per wallet) with
its stop rule, result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from smart_trader import schemas
from smart_trader.ingest import fields
from smart_trader.ingest.ledger import FetchResult, Ledger, Outcome, Rejection, fetch_result
from smart_trader.ingest.paging import PagedCollector
from smart_trader.settings import NATIVE_SOL, WSOL

TRADER_TXS = "/trader/txs/seek_by_time"

SwapKey = tuple[str, int, int, str]  # (tx_hash, ins_index, inner_ins_index, wallet_address)

# transaction_history's row order: each wallet's swaps, oldest first.
HISTORY_ORDER = ("wallet_address", "block_time", "tx_hash", "ins_index", "inner_ins_index")

OWNER_MISMATCH = "owner_mismatch"
SAME_TOKEN_BOTH_LEGS = "same_token_both_legs"


def _leg(item: Mapping[str, Any], side: str) -> dict[str, Any]:
    leg = item.get(side)
    if not isinstance(leg, dict):
        raise Rejection(f"missing_field: {side}")
    type_swap = fields.string(leg, "type_swap", f"{side}.type_swap")
    if type_swap not in ("from", "to"):
        raise Rejection(f"unknown_type_swap: {side}.type_swap is {type_swap!r}")
    address = fields.address(leg, "address", f"{side}.address")
    if address == NATIVE_SOL:
        address = WSOL
    change = leg.get("ui_change_amount")
    if change is not None:
        signed = fields.finite(change)
        if signed is None:
            raise Rejection(f"invalid_amount: {side}.ui_change_amount is not a finite number")
        if (type_swap == "from" and signed > 0) or (type_swap == "to" and signed < 0):
            raise Rejection(
                f"sign_contradicts_type_swap: {side}.ui_change_amount is "
                f"{'positive' if signed > 0 else 'negative'} on a '{type_swap}' leg"
            )
        amount = fields.valid_amount(abs(signed), f"{side}.ui_change_amount")
    else:
        absolute = fields.to_number(
            fields.required(leg, "ui_amount", f"{side}.ui_amount (or ui_change_amount)")
        )
        amount = fields.valid_amount(
            abs(absolute) if absolute is not None else None, f"{side}.ui_amount"
        )
    price = fields.valid_price(leg.get("price"))
    if price is None:
        price = fields.valid_price(leg.get("nearest_price"))
    return {
        "type_swap": type_swap,
        "address": address,
        "symbol": fields.string(leg, "symbol", f"{side}.symbol"),
        "amount": amount,
        "price": price,
    }


def parse_swap(record: object, wallet: str) -> dict[str, Any]:
    """One /trader/txs/seek_by_time item → a transaction_history row (without the partition,
    fetched_at and truncation flag). Direction comes from type_swap only, never base/quote."""
    item = fields.as_object(record)
    owner = fields.address(item, "owner")
    if owner != wallet:
        raise Rejection(OWNER_MISMATCH)
    base, quote = _leg(item, "base"), _leg(item, "quote")
    if base["type_swap"] == quote["type_swap"]:
        raise Rejection(f"type_swap: both legs are '{base['type_swap']}'")
    sold, bought = (base, quote) if base["type_swap"] == "from" else (quote, base)
    if sold["address"] == bought["address"]:
        raise Rejection(SAME_TOKEN_BOTH_LEGS)
    inner = item.get("inner_ins_index")
    return {
        "block_time": fields.unix_time(fields.number(item, "block_unix_time"), "block_unix_time"),
        "block_number": fields.integer(item, "block_number"),
        "tx_hash": fields.address(item, "tx_hash"),
        "ins_index": fields.integer(item, "ins_index"),
        "inner_ins_index": -1 if inner is None else fields.integer(item, "inner_ins_index"),
        "wallet_address": wallet,
        "source": fields.string(item, "source"),
        "sold_token_address": sold["address"],
        "sold_token_symbol": sold["symbol"],
        "sold_amount": sold["amount"],
        "sold_price_usd": sold["price"],
        "bought_token_address": bought["address"],
        "bought_token_symbol": bought["symbol"],
        "bought_amount": bought["amount"],
        "bought_price_usd": bought["price"],
        "tx_type": item.get("tx_type"),
    }


def swap_key(row: Mapping[str, Any]) -> SwapKey:
    return (row["tx_hash"], row["ins_index"], row["inner_ins_index"], row["wallet_address"])


class SwapCollector(PagedCollector[SwapKey, dict[str, Any]]):
    """Pages (newest first) of one wallet's swaps in [start, end) → its transaction_history rows.

    Keeps at most max_swaps rows, the newest; a wallet with more is flagged fetch_truncated.
    Rows outside [start, end) or not swaps are filtered (the server's time bounds may be
    inclusive or exclusive; the contract's are [start, end)).
    """

    def __init__(
        self,
        wallet: str,
        start: dt.datetime,
        end: dt.datetime,
        max_swaps: int,
        ledger: Ledger,
    ) -> None:
        super().__init__(ledger)
        self.wallet = wallet
        self.start = start
        self.end = end
        self.max_swaps = max_swaps
        self._rows: dict[SwapKey, dict[str, Any]] = {}

    @property
    def over_limit(self) -> bool:
        """More rows than max_swaps are in: the newest max_swaps are settled, stop paging."""
        return len(self._rows) > self.max_swaps

    def _parse(self, record: object) -> dict[str, Any]:
        return parse_swap(record, self.wallet)

    def _key(self, row: dict[str, Any]) -> SwapKey:
        return swap_key(row)

    def _rank(self, row: dict[str, Any]) -> float:
        return float(row["block_time"].timestamp())

    def _accept(self, key: SwapKey, row: dict[str, Any], fetched_at: dt.datetime) -> None:
        tx_type = row.pop("tx_type")
        if (tx_type is not None and tx_type != "swap") or not (
            self.start <= row["block_time"] < self.end
        ):
            self.ledger.record(Outcome.FILTERED)
        else:
            self.ledger.record(Outcome.STORED)
            self._rows[key] = {**row, "fetched_at": fetched_at}

    def rows(self, day: dt.date) -> list[dict[str, Any]]:
        self.close()
        newest = sorted(
            self._rows.values(),
            key=lambda r: (r["block_time"], r["block_number"], *swap_key(r)),
            reverse=True,
        )
        truncated = len(newest) > self.max_swaps
        kept = newest[: self.max_swaps]
        self.ledger.reclassify(Outcome.STORED, Outcome.FILTERED, len(newest) - len(kept))
        return [{**r, "ingest_date": day, "fetch_truncated": truncated} for r in kept]


def transaction_history_result(
    day: dt.date, collectors: Iterable[SwapCollector], ledger: Ledger
) -> FetchResult:
    rows = [row for collector in collectors for row in collector.rows(day)]
    return fetch_result(rows, schemas.TRANSACTION_HISTORY, ledger, sort_by=HISTORY_ORDER)
