"""Fault injection: hostile API behaviour on demand, deterministic from fault_seed and request.

Transient faults (5xx, 429, slow, timeout, truncated or non-JSON bodies) are decided per
(request key, attempt number) and never hit an attempt past `max_faulty_attempts`, so a client
that retries the same request eventually gets the good answer. Record faults (malformed records,
duplicated rows) depend only on the record or page, so every delivery of a page is the same;
each injected record is logged with its identity so a test can account for all of them.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from solders.pubkey import Pubkey

TRANSIENT_KINDS = (
    "server_error",
    "rate_limit",
    "timeout",
    "slow",
    "truncated_body",
    "non_json_body",
)
# Valid variations the client must accept (strings for numbers are legal JSON input).
VALID_KINDS = frozenset({"string_number"})
RECORD_KINDS: dict[str, tuple[str, ...]] = {
    "/trader/txs/seek_by_time": (
        "missing_field",
        "null_field",
        "string_number",
        "negative_amount",
        "unknown_type_swap",
        "sign_contradiction",
        "same_token_both_legs",
        "owner_mismatch",
    ),
    "/defi/v3/token/holder": ("missing_field", "null_field", "string_number", "negative_amount"),
    "/defi/v3/token/list": ("missing_field", "null_field", "string_number", "negative_amount"),
    "/defi/multi_price": ("null_field", "string_number"),
}
# a well-formed address that is nobody's wallet in the market
_OTHER_OWNER = str(Pubkey(hashlib.blake2b(b"sandbox:other-owner", digest_size=32).digest()))
_SWAP_FIELDS = ("tx_hash", "block_unix_time", "owner", "base")


@dataclass(frozen=True)
class FaultConfig:
    """Rates in [0, 1] per knob (0 = off) plus the knobs' parameters."""

    server_error: float = 0.0
    rate_limit: float = 0.0
    slow: float = 0.0
    timeout: float = 0.0
    truncated_body: float = 0.0
    non_json_body: float = 0.0
    malformed_records: float = 0.0
    duplicate_rows: float = 0.0
    fault_seed: int = 0
    slow_seconds: float = 0.2
    timeout_seconds: float = 5.0
    retry_after_seconds: int = 1
    rate_limit_burst: int = 2
    max_faulty_attempts: int = 3

    @classmethod
    def parse(cls, spec: str | None) -> FaultConfig:
        """`"server_error=0.1,rate_limit=0.05,fault_seed=3"`; empty or None: no faults."""
        if not spec or not spec.strip():
            return cls()
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in spec.split(","):
            if not part.strip():
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in types:
                raise ValueError(f"unknown fault knob {name!r} in {spec!r}")
            try:
                value: float | int = int(raw) if types[name] in ("int", int) else float(raw)
            except ValueError:
                raise ValueError(f"fault knob {name}: {raw!r} is not a number") from None
            if name in (*TRANSIENT_KINDS, "malformed_records", "duplicate_rows") and not (
                0.0 <= value <= 1.0
            ):
                raise ValueError(f"fault knob {name}: rate {value} is not in [0, 1]")
            values[name] = value
        return cls(**values)

    @property
    def any_transient(self) -> bool:
        return any(getattr(self, k) > 0 for k in TRANSIENT_KINDS)


def _unit(*parts: object) -> float:
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


class InjectionLog:
    """Distinct injected records per endpoint and kind (a re-delivered record counts once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[tuple[str, str], set[str]] = defaultdict(set)

    def add(self, endpoint: str, kind: str, record_id: str) -> None:
        with self._lock:
            self.records[(endpoint, kind)].add(record_id)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(dict)
        with self._lock:
            for (endpoint, kind), ids in self.records.items():
                out[endpoint][kind] = len(ids)
        return dict(out)

    def bad_records(self, endpoint: str) -> int:
        """Injected records a correct client must reject (not valid variants, not duplicates)."""
        return sum(
            n
            for kind, n in self.counts().get(endpoint, {}).items()
            if kind not in VALID_KINDS and kind != "duplicate"
        )


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.log = InjectionLog()
        self._attempts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def transient(self, request_key: str) -> str | None:
        """The transient fault of this attempt of `request_key`, if any."""
        c = self.config
        if not c.any_transient:
            return None
        with self._lock:
            attempt = self._attempts[request_key]
            self._attempts[request_key] = attempt + 1
        if attempt >= c.max_faulty_attempts:
            return None
        for kind in TRANSIENT_KINDS:
            rate = getattr(c, kind)
            # 429s come in runs of rate_limit_burst consecutive attempts
            step = attempt // max(c.rate_limit_burst, 1) if kind == "rate_limit" else attempt
            if rate > 0 and _unit(c.fault_seed, kind, request_key, step) < rate:
                return kind
        return None

    def corrupt(
        self, endpoint: str, record: dict[str, Any], record_id: str, log: bool
    ) -> dict[str, Any]:
        """The record, possibly made malformed (deterministically per record)."""
        c = self.config
        kinds = RECORD_KINDS.get(endpoint)
        if not kinds or c.malformed_records <= 0:
            return record
        if _unit(c.fault_seed, "malformed", endpoint, record_id) >= c.malformed_records:
            return record
        kind = kinds[int(_unit(c.fault_seed, "kind", endpoint, record_id) * len(kinds))]
        bad = copy.deepcopy(record)
        _MUTATORS[endpoint](bad, kind, _unit(c.fault_seed, "variant", endpoint, record_id))
        if log:
            self.log.add(endpoint, kind, record_id)
        return bad

    def duplicate_page(self, page_key: str) -> bool:
        c = self.config
        return c.duplicate_rows > 0 and _unit(c.fault_seed, "dup", page_key) < c.duplicate_rows


def _mutate_swap(item: dict[str, Any], kind: str, variant: float) -> None:
    spent = item["base"] if item["base"]["type_swap"] == "from" else item["quote"]
    got = item["quote"] if spent is item["base"] else item["base"]
    if kind == "missing_field":
        del item[_SWAP_FIELDS[int(variant * len(_SWAP_FIELDS))]]
    elif kind == "null_field":
        got["ui_change_amount"] = None
        got["ui_amount"] = None
        got["amount"] = None
        got["change_amount"] = None
    elif kind == "string_number":
        for leg in (spent, got):
            for key in ("amount", "ui_amount", "change_amount", "ui_change_amount"):
                leg[key] = str(leg[key])
    elif kind == "negative_amount":
        for key in ("amount", "ui_amount", "change_amount", "ui_change_amount"):
            got[key] = -abs(got[key])
            spent[key] = -abs(spent[key])
    elif kind == "unknown_type_swap":
        got["type_swap"] = "sideways"
    elif kind == "sign_contradiction":
        got["change_amount"] = -got["change_amount"]
        got["ui_change_amount"] = -got["ui_change_amount"]
    elif kind == "same_token_both_legs":
        got["address"] = spent["address"]
        got["symbol"] = spent["symbol"]
    elif kind == "owner_mismatch":
        item["owner"] = _OTHER_OWNER


def _mutate_holder(item: dict[str, Any], kind: str, variant: float) -> None:
    if kind == "missing_field":
        del item["owner"]
    elif kind == "null_field":
        item["amount"] = None
        item["ui_amount"] = None
    elif kind == "string_number":
        item["ui_amount"] = str(item["ui_amount"])
    elif kind == "negative_amount":
        item["amount"] = "-" + item["amount"]
        item["ui_amount"] = -item["ui_amount"]


def _mutate_token(item: dict[str, Any], kind: str, variant: float) -> None:
    if kind == "missing_field":
        del item["address"]
    elif kind == "null_field":
        item["price"] = None
    elif kind == "string_number":
        item["liquidity"] = str(item["liquidity"])
        item["price"] = str(item["price"])
    elif kind == "negative_amount":
        item["price"] = -item["price"]


def _mutate_price(item: dict[str, Any], kind: str, variant: float) -> None:
    if kind == "null_field":
        item["value"] = None
    elif kind == "string_number":
        item["value"] = str(item["value"])


_MUTATORS: dict[str, Callable[[dict[str, Any], str, float], None]] = {
    "/trader/txs/seek_by_time": _mutate_swap,
    "/defi/v3/token/holder": _mutate_holder,
    "/defi/v3/token/list": _mutate_token,
    "/defi/multi_price": _mutate_price,
}
