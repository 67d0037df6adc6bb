"""Every received record accounted for once: outcomes, per-endpoint counts, rejections.

Each collector classifies every received record exactly once (stored, rejected, filtered, merged
or duplicate) through a `Ledger`, so received = stored + rejected + filtered + merged + duplicate
holds by construction, and `EndpointCounts` asserts it anyway.

A record that breaks a parsing rule becomes a rejected record (endpoint, reason, the record's
JSON as received, fetched_at); it never crashes a fetch and is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import polars as pl

from smart_trader import schemas


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


def rejected_frame(ledgers: Iterable[Ledger]) -> pl.DataFrame:
    rows = [row for ledger in ledgers for row in ledger.rejections]
    return schemas.conform(
        pl.DataFrame(rows, schema=schemas.REJECTED_RECORDS.schema), schemas.REJECTED_RECORDS
    )


def fetch_result(
    rows: list[dict[str, Any]],
    spec: schemas.TableSpec,
    ledger: Ledger,
    sort_by: Sequence[str] = (),
) -> FetchResult:
    """One endpoint's fetch: its kept rows as the conformed bronze table (sorted by `sort_by`
    when given, else in the order of `rows`), the ledger's rejections and counts."""
    frame = schemas.conform(pl.DataFrame(rows, schema=spec.schema, orient="row"), spec)
    return FetchResult(
        frame=frame.sort(sort_by) if sort_by else frame,
        rejected=rejected_frame([ledger]),
        counts={ledger.endpoint: ledger.counts()},
    )
