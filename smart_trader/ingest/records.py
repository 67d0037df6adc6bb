"""BirdEye records → the bronze tables of DATA_CONTRACT.md, with every rejection accounted for.

Pure: no I/O, no Dagster. The clients feed pages into the collectors below as they arrive; each
collector classifies every received record exactly once (stored, rejected, filtered, merged or
duplicate) through a `Ledger`, so received = stored + rejected + filtered + merged + duplicate
holds by construction, and `Ledger.counts` asserts it anyway.

A record that breaks a parsing rule becomes a rejected record (endpoint, reason, the record's
JSON as received, fetched_at); it never crashes a fetch and is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

import polars as pl
from solders.pubkey import Pubkey

from smart_trader import schemas
from smart_trader.settings import NATIVE_SOL, WSOL, Settings

TOKEN_LIST = "/defi/v3/token/list"
HOLDERS = "/defi/v3/token/holder"
TRADER_TXS = "/trader/txs/seek_by_time"
MULTI_PRICE = "/defi/multi_price"

K = TypeVar("K")
P = TypeVar("P")
SwapKey = tuple[str, int, int, str]  # (tx_hash, ins_index, inner_ins_index, wallet_address)

OWNER_MISMATCH = "owner_mismatch"
SAME_TOKEN_BOTH_LEGS = "same_token_both_legs"


class Outcome(Enum):
    STORED = "stored"
    REJECTED = "rejected"
    FILTERED = "filtered"
    MERGED = "merged"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class EndpointCounts:
    received: int = 0
    stored: int = 0
    rejected: int = 0
    filtered: int = 0
    merged: int = 0
    duplicate: int = 0

    def __post_init__(self) -> None:
        parts = self.stored + self.rejected + self.filtered + self.merged + self.duplicate
        if self.received != parts:
            raise AssertionError(
                f"record accounting broken: received {self.received} != stored {self.stored} "
                f"+ rejected {self.rejected} + filtered {self.filtered} + merged {self.merged} "
                f"+ duplicate {self.duplicate}"
            )

    def __add__(self, other: EndpointCounts) -> EndpointCounts:
        return EndpointCounts(
            self.received + other.received,
            self.stored + other.stored,
            self.rejected + other.rejected,
            self.filtered + other.filtered,
            self.merged + other.merged,
            self.duplicate + other.duplicate,
        )


@dataclass(frozen=True)
class FetchResult:
    """frame: the bronze table (conformed); rejected: schemas.REJECTED_RECORDS rows;
    counts: per endpoint; stats: what happened on the wire (requests, retries, 429s...)."""

    frame: pl.DataFrame
    rejected: pl.DataFrame
    counts: dict[str, EndpointCounts]
    stats: dict[str, int | float] = field(default_factory=dict)


class Rejection(Exception):
    """A record broke a parsing rule; the message is the reason (which field, which rule)."""


def raw_json(record: object) -> str:
    """The record as JSON, as received: key order, strings and numbers kept, compact."""
    return json.dumps(record, separators=(",", ":"))


class Ledger:
    """Counts and rejections of one endpoint within one fetch."""

    def __init__(self, endpoint: str, ingest_date: dt.date) -> None:
        self.endpoint = endpoint
        self.ingest_date = ingest_date
        self._outcomes: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self._received = 0
        self.rejections: list[dict[str, Any]] = []

    def record(self, outcome: Outcome, n: int = 1) -> None:
        self._received += n
        self._outcomes[outcome] += n

    def reclassify(self, old: Outcome, new: Outcome, n: int = 1) -> None:
        """A later decision (top-N cut, truncation) changes what became of kept records."""
        if n > self._outcomes[old]:
            raise AssertionError(f"cannot move {n} records out of {old.value}")
        self._outcomes[old] -= n
        self._outcomes[new] += n

    def reject(self, record: object, reason: str, fetched_at: dt.datetime) -> None:
        self.record(Outcome.REJECTED)
        self.rejections.append(
            {
                "ingest_date": self.ingest_date,
                "endpoint": self.endpoint,
                "reason": reason,
                "raw_record": raw_json(record),
                "fetched_at": fetched_at,
            }
        )

    def counts(self) -> EndpointCounts:
        o = self._outcomes
        return EndpointCounts(
            received=self._received,
            stored=o[Outcome.STORED],
            rejected=o[Outcome.REJECTED],
            filtered=o[Outcome.FILTERED],
            merged=o[Outcome.MERGED],
            duplicate=o[Outcome.DUPLICATE],
        )


class PagedCollector(ABC, Generic[K, P]):
    """Pages of one sorted list (best first) → fresh rows, each row accounted for once.

    A row whose key was seen before is a duplicate. A page longer than the page size asked for
    carries rows of a neighbouring page (servers repeat rows across pages when the list moves
    between requests): the surplus (an out-of-order head, else the tail) is held back until the
    next page shows whether it belongs there (then it is a duplicate) or not (then it is this
    page's row). Without this, a row of page k+1 repeated on page k would be kept when paging
    stops after page k, and the result would depend on the repetition.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._seen: set[K] = set()
        self._pending: list[tuple[K, P, dt.datetime]] = []

    @abstractmethod
    def _parse(self, record: object) -> P:
        """The row of one record; raises Rejection."""

    @abstractmethod
    def _key(self, row: P) -> K:
        """What makes two rows the same row."""

    @abstractmethod
    def _rank(self, row: P) -> float:
        """The list's sort value; pages run from high to low."""

    @abstractmethod
    def _accept(self, key: K, row: P, fetched_at: dt.datetime) -> None:
        """Record the outcome of a fresh row (stored, filtered or merged)."""

    def add_page(
        self, items: Iterable[object], fetched_at: dt.datetime, page_size: int | None = None
    ) -> None:
        parsed: list[tuple[K, P]] = []
        rejected = 0
        for record in items:
            try:
                row = self._parse(record)
            except Rejection as exc:
                rejected += 1
                self.ledger.reject(record, str(exc), fetched_at)
                continue
            parsed.append((self._key(row), row))
        on_page = {key for key, _ in parsed}
        for key, row, at in self._pending:
            if key in on_page:
                self.ledger.record(Outcome.DUPLICATE)
            else:
                self._take(key, row, at)
        self._pending = []
        fresh: list[tuple[K, P]] = []
        fresh_keys: set[K] = set()
        for key, row in parsed:
            if key in self._seen or key in fresh_keys:
                self.ledger.record(Outcome.DUPLICATE)
            else:
                fresh.append((key, row))
                fresh_keys.add(key)
        surplus = 0 if page_size is None else len(fresh) + rejected - page_size
        while surplus > 0 and len(fresh) > 1 and self._rank(fresh[0][1]) < self._rank(fresh[1][1]):
            key, row = fresh.pop(0)
            self._pending.append((key, row, fetched_at))
            surplus -= 1
        if surplus > 0:
            self._pending.extend((key, row, fetched_at) for key, row in fresh[-surplus:])
            fresh = fresh[:-surplus]
        for key, row in fresh:
            self._take(key, row, fetched_at)

    def _take(self, key: K, row: P, fetched_at: dt.datetime) -> None:
        self._seen.add(key)
        self._accept(key, row, fetched_at)

    def close(self) -> None:
        """Paging stopped: rows held back belonged to the page never read."""
        self.ledger.record(Outcome.DUPLICATE, len(self._pending))
        self._pending = []


def rejected_frame(ledgers: Iterable[Ledger]) -> pl.DataFrame:
    rows = [row for ledger in ledgers for row in ledger.rejections]
    return schemas.conform(
        pl.DataFrame(rows, schema=schemas.REJECTED_RECORDS.schema), schemas.REJECTED_RECORDS
    )


def _frame(rows: list[dict[str, Any]], spec: schemas.TableSpec) -> pl.DataFrame:
    return schemas.conform(pl.DataFrame(rows, schema=spec.schema, orient="row"), spec)


# ---------------------------------------------------------------------------------------------
# Field readers: numbers may arrive as JSON numbers or strings; booleans are not numbers.


def _field(record: Mapping[str, Any], name: str, label: str | None = None) -> Any:
    value = record.get(name)
    if value is None:
        raise Rejection(f"missing_field: {label or name}")
    return value


def to_number(value: object) -> float | None:
    """A JSON number or numeric string as float; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _number(record: Mapping[str, Any], name: str, label: str | None = None) -> float:
    number = to_number(_field(record, name, label))
    if number is None or not math.isfinite(number):
        raise Rejection(f"invalid_number: {label or name} is not a finite number")
    return number


def _optional_number(record: Mapping[str, Any], name: str) -> float | None:
    number = to_number(record.get(name))
    return number if number is not None and math.isfinite(number) else None


def _integer(record: Mapping[str, Any], name: str, label: str | None = None) -> int:
    value = _field(record, name, label)
    number = to_number(value)
    if number is None or not math.isfinite(number) or number != int(number):
        raise Rejection(f"invalid_integer: {label or name} is not an integer")
    return int(number)


def _optional_integer(record: Mapping[str, Any], name: str) -> int | None:
    number = to_number(record.get(name))
    if number is None or not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def _string(record: Mapping[str, Any], name: str, label: str | None = None) -> str:
    value = _field(record, name, label)
    if not isinstance(value, str):
        raise Rejection(f"invalid_string: {label or name} is not a string")
    return value


def _address(record: Mapping[str, Any], name: str, label: str | None = None) -> str:
    value = _string(record, name, label)
    if not value:
        raise Rejection(f"missing_field: {label or name} is empty")
    return value


def valid_price(value: object) -> float | None:
    """A price is valid when finite and > 0 (DATA_CONTRACT.md General rules)."""
    number = to_number(value)
    return number if number is not None and math.isfinite(number) and number > 0 else None


def _valid_amount(number: float | None, label: str) -> float:
    if number is None or not math.isfinite(number) or number <= 0:
        raise Rejection(f"invalid_amount: {label} must be finite and > 0")
    return number


def _unix_time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _as_object(record: object) -> Mapping[str, Any]:
    if not isinstance(record, dict):
        raise Rejection(f"not_an_object: record is {type(record).__name__}")
    return record


def is_on_curve(address: str) -> bool | None:
    """None when the address is not a base58 public key at all."""
    try:
        return Pubkey.from_string(address).is_on_curve()
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# token_metrics: /defi/v3/token/list


def token_list_params(settings: Settings) -> dict[str, str | int | float]:
    """Server-side filters (inclusive bounds, per the v3 list) and the sort the fetch relies on."""
    f = settings.token_filters
    return {
        "sort_by": "liquidity",
        "sort_type": "desc",
        "min_liquidity": f.min_liquidity_usd,
        "max_liquidity": f.max_liquidity_usd,
        "min_volume_1h_usd": f.min_volume_1h_usd,
        "min_price_change_2h_percent": f.min_price_change_2h_pct,
        "min_price_change_24h_percent": f.min_price_change_24h_pct,
        "ui_amount_mode": "raw",
    }


def parse_token(record: object) -> dict[str, Any]:
    item = _as_object(record)
    last_trade = _optional_number(item, "last_trade_unix_time")
    price = valid_price(_field(item, "price"))
    if price is None:
        raise Rejection("invalid_price: price must be finite and > 0")
    return {
        "token_address": _address(item, "address"),
        "symbol": _string(item, "symbol"),
        "name": _string(item, "name"),
        "decimals": _integer(item, "decimals"),
        "price_usd": price,
        "liquidity_usd": _number(item, "liquidity"),
        "market_cap_usd": _optional_number(item, "market_cap"),
        "fdv_usd": _optional_number(item, "fdv"),
        "volume_1h_usd": _number(item, "volume_1h_usd"),
        "volume_24h_usd": _number(item, "volume_24h_usd"),
        "price_change_2h_pct": _number(item, "price_change_2h_percent"),
        "price_change_24h_pct": _number(item, "price_change_24h_percent"),
        "holder_count": _optional_integer(item, "holder"),
        "last_trade_at": _unix_time(last_trade) if last_trade is not None else None,
    }


def passes_token_filters(token: Mapping[str, Any], settings: Settings) -> bool:
    f = settings.token_filters
    return (
        f.min_liquidity_usd <= token["liquidity_usd"] <= f.max_liquidity_usd
        and token["volume_1h_usd"] >= f.min_volume_1h_usd
        and token["price_change_2h_pct"] >= f.min_price_change_2h_pct
        and token["price_change_24h_pct"] >= f.min_price_change_24h_pct
    )


class TokenListCollector(PagedCollector[str, dict[str, Any]]):
    """Pages of the liquidity-sorted, server-filtered token list → token_metrics(D)."""

    def __init__(self, day: dt.date, settings: Settings, data_source: str) -> None:
        super().__init__(Ledger(TOKEN_LIST, day))
        self.day = day
        self.settings = settings
        self.data_source = data_source
        self._kept: dict[str, dict[str, Any]] = {}

    def _parse(self, record: object) -> dict[str, Any]:
        return parse_token(record)

    def _key(self, row: dict[str, Any]) -> str:
        return str(row["token_address"])

    def _rank(self, row: dict[str, Any]) -> float:
        return float(row["liquidity_usd"])

    def _accept(self, key: str, row: dict[str, Any], fetched_at: dt.datetime) -> None:
        if key in self.settings.quote_asset_set or not passes_token_filters(row, self.settings):
            self.ledger.record(Outcome.FILTERED)
        else:
            self.ledger.record(Outcome.STORED)
            self._kept[key] = {**row, "fetched_at": fetched_at}

    def enough(self, last_liquidity: float | None) -> bool:
        """Top N is settled once N tokens are kept and the list has gone below the N-th one's
        liquidity (a tie with the N-th could still come and win on token_address)."""
        n = self.settings.tokens_per_day
        if len(self._kept) < n or last_liquidity is None:
            return False
        nth = sorted((t["liquidity_usd"] for t in self._kept.values()), reverse=True)[n - 1]
        return last_liquidity < nth

    def finish(self) -> FetchResult:
        self.close()
        ranked = sorted(
            self._kept.values(), key=lambda t: (-t["liquidity_usd"], t["token_address"])
        )
        top = ranked[: self.settings.tokens_per_day]
        self.ledger.reclassify(Outcome.STORED, Outcome.FILTERED, len(ranked) - len(top))
        rows = [{**t, "snapshot_date": self.day, "data_source": self.data_source} for t in top]
        return FetchResult(
            frame=_frame(rows, schemas.TOKEN_METRICS),
            rejected=rejected_frame([self.ledger]),
            counts={TOKEN_LIST: self.ledger.counts()},
        )


# ---------------------------------------------------------------------------------------------
# whale_holders: /defi/v3/token/holder


def parse_holder(record: object, token_address: str) -> tuple[str, str, float]:
    """(token_account, owner, ui_amount) of one token-account row."""
    item = _as_object(record)
    owner = _address(item, "owner")
    token_account = _address(item, "token_account")
    mint = item.get("mint")
    if mint is not None and mint != token_address:
        raise Rejection("mint_mismatch: mint differs from the queried token")
    if item.get("ui_amount") is not None:
        ui_amount = to_number(item["ui_amount"])
        label = "ui_amount"
    else:
        raw = to_number(item.get("amount"))
        decimals = to_number(item.get("decimals"))
        if raw is None or decimals is None:
            raise Rejection("missing_field: ui_amount (and no amount with decimals)")
        ui_amount = raw / 10**decimals
        label = "amount"
    return token_account, owner, _valid_amount(ui_amount, label)


class HolderCollector(PagedCollector[str, tuple[str, str, float]]):
    """Pages of one token's holder list → its kept owners, summed over their token accounts."""

    def __init__(
        self, token_address: str, price_usd: float, settings: Settings, ledger: Ledger
    ) -> None:
        super().__init__(ledger)
        self.token_address = token_address
        self.price_usd = price_usd
        self.settings = settings
        self._owners: dict[str, float] = {}
        self._fetched_at: dict[str, dt.datetime] = {}

    @property
    def kept_owners(self) -> int:
        return len(self._owners)

    def _parse(self, record: object) -> tuple[str, str, float]:
        token_account, owner, ui_amount = parse_holder(record, self.token_address)
        if is_on_curve(owner) is None:
            raise Rejection("invalid_address: owner is not a base58 public key")
        return token_account, owner, ui_amount

    def _key(self, row: tuple[str, str, float]) -> str:
        return row[0]

    def _rank(self, row: tuple[str, str, float]) -> float:
        return row[2]

    def _accept(self, key: str, row: tuple[str, str, float], fetched_at: dt.datetime) -> None:
        _, owner, ui_amount = row
        if not is_on_curve(owner) or owner in self.settings.excluded_wallets:
            self.ledger.record(Outcome.FILTERED)
        elif owner in self._owners:
            self.ledger.record(Outcome.MERGED)
            self._owners[owner] += ui_amount
        else:
            self.ledger.record(Outcome.STORED)
            self._owners[owner] = ui_amount
            self._fetched_at[owner] = fetched_at

    def rows(self, day: dt.date) -> list[dict[str, Any]]:
        self.close()
        ranked = sorted(self._owners.items(), key=lambda kv: (-kv[1], kv[0]))
        top = ranked[: self.settings.holders_per_token]
        self.ledger.reclassify(Outcome.STORED, Outcome.FILTERED, len(ranked) - len(top))
        return [
            {
                "snapshot_date": day,
                "token_address": self.token_address,
                "wallet_address": owner,
                "rank": rank,
                "ui_amount": amount,
                "value_usd": amount * self.price_usd,
                "fetched_at": self._fetched_at[owner],
            }
            for rank, (owner, amount) in enumerate(top, start=1)
        ]


def whale_holders_result(
    day: dt.date, collectors: Iterable[HolderCollector], ledger: Ledger
) -> FetchResult:
    rows = [row for collector in collectors for row in collector.rows(day)]
    return FetchResult(
        frame=_frame(rows, schemas.WHALE_HOLDERS),
        rejected=rejected_frame([ledger]),
        counts={HOLDERS: ledger.counts()},
    )


# ---------------------------------------------------------------------------------------------
# transaction_history: /trader/txs/seek_by_time


def _leg(item: Mapping[str, Any], side: str) -> dict[str, Any]:
    leg = item.get(side)
    if not isinstance(leg, dict):
        raise Rejection(f"missing_field: {side}")
    type_swap = _string(leg, "type_swap", f"{side}.type_swap")
    if type_swap not in ("from", "to"):
        raise Rejection(f"unknown_type_swap: {side}.type_swap is {type_swap!r}")
    address = _address(leg, "address", f"{side}.address")
    if address == NATIVE_SOL:
        address = WSOL
    change = leg.get("ui_change_amount")
    if change is not None:
        signed = to_number(change)
        if signed is None or not math.isfinite(signed):
            raise Rejection(f"invalid_amount: {side}.ui_change_amount is not a finite number")
        if (type_swap == "from" and signed > 0) or (type_swap == "to" and signed < 0):
            raise Rejection(
                f"sign_contradicts_type_swap: {side}.ui_change_amount is "
                f"{'positive' if signed > 0 else 'negative'} on a '{type_swap}' leg"
            )
        amount = _valid_amount(abs(signed), f"{side}.ui_change_amount")
    else:
        absolute = to_number(_field(leg, "ui_amount", f"{side}.ui_amount (or ui_change_amount)"))
        amount = _valid_amount(abs(absolute) if absolute is not None else None, f"{side}.ui_amount")
    price = valid_price(leg.get("price"))
    if price is None:
        price = valid_price(leg.get("nearest_price"))
    return {
        "type_swap": type_swap,
        "address": address,
        "symbol": _string(leg, "symbol", f"{side}.symbol"),
        "amount": amount,
        "price": price,
    }


def parse_swap(record: object, wallet: str) -> dict[str, Any]:
    """One /trader/txs/seek_by_time item → a transaction_history row (without the partition,
    fetched_at and truncation flag). Direction comes from type_swap only, never base/quote."""
    item = _as_object(record)
    owner = _address(item, "owner")
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
        "block_time": _unix_time(_number(item, "block_unix_time")),
        "block_number": _integer(item, "block_number"),
        "tx_hash": _address(item, "tx_hash"),
        "ins_index": _integer(item, "ins_index"),
        "inner_ins_index": -1 if inner is None else _integer(item, "inner_ins_index"),
        "wallet_address": wallet,
        "source": _string(item, "source"),
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
    frame = _frame(rows, schemas.TRANSACTION_HISTORY).sort(
        "wallet_address", "block_time", "tx_hash", "ins_index", "inner_ins_index"
    )
    return FetchResult(
        frame=frame, rejected=rejected_frame([ledger]), counts={TRADER_TXS: ledger.counts()}
    )


# ---------------------------------------------------------------------------------------------
# token_prices: /defi/multi_price


class PriceCollector:
    """multi_price answers (address → price object or null) → token_prices(D).

    Every entry of `data` is a received record; an unknown token (null) and an address not asked
    for are filtered, so the token is absent; an invalid price is rejected.
    """

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.ledger = Ledger(MULTI_PRICE, day)
        self._prices: dict[str, dict[str, Any]] = {}

    def add_batch(
        self, requested: Iterable[str], data: Mapping[str, object], fetched_at: dt.datetime
    ) -> None:
        asked = set(requested)
        for address, entry in data.items():
            if address in self._prices:
                self.ledger.record(Outcome.DUPLICATE)
            elif entry is None or address not in asked:
                self.ledger.record(Outcome.FILTERED)
            else:
                price = valid_price(entry.get("value")) if isinstance(entry, dict) else None
                if price is None:
                    self.ledger.reject(
                        {address: entry},
                        "invalid_price: value must be finite and > 0",
                        fetched_at,
                    )
                    continue
                self.ledger.record(Outcome.STORED)
                self._prices[address] = {
                    "snapshot_date": self.day,
                    "token_address": address,
                    "price_usd": price,
                    "fetched_at": fetched_at,
                }

    def finish(self) -> FetchResult:
        rows = sorted(self._prices.values(), key=lambda r: r["token_address"])
        return FetchResult(
            frame=_frame(rows, schemas.TOKEN_PRICES),
            rejected=rejected_frame([self.ledger]),
            counts={MULTI_PRICE: self.ledger.counts()},
        )
