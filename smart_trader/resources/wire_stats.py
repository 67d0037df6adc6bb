"""What a session did on the wire (requests, retries, 429s, 5xx, transport errors per endpoint),
for materialization metadata, and the progress lines of a long fetch."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol


class LogLike(Protocol):
    """Dagster's context.log or a logging.Logger."""

    def info(self, msg: str) -> None: ...


@dataclass
class WireCounts:
    """Requests and faults of one endpoint, or of a whole session."""

    requests: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0

    def add(self, other: WireCounts) -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.statuses.update(other.statuses)
        self.transport_errors += other.transport_errors

    def as_metadata(self, prefix: str = "") -> dict[str, int]:
        return {
            f"{prefix}http_requests": self.requests,
            f"{prefix}http_retries": self.retries,
            f"{prefix}http_429": self.statuses.get(429, 0),
            f"{prefix}http_5xx": sum(n for status, n in self.statuses.items() if status >= 500),
            f"{prefix}http_transport_errors": self.transport_errors,
        }


@dataclass
class RequestStats:
    """What the session did on the wire, per endpoint and in total, for progress logs,
    materialization metadata and the benchmark."""

    endpoints: dict[str, WireCounts] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    first_sent: float | None = None
    last_answered: float | None = None

    def of(self, endpoint: str) -> WireCounts:
        return self.endpoints.setdefault(endpoint, WireCounts())

    @property
    def total(self) -> WireCounts:
        total = WireCounts()
        for counts in self.endpoints.values():
            total.add(counts)
        return total

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def wire_seconds(self) -> float:
        """From the first request sent to the last answer received."""
        if self.first_sent is None or self.last_answered is None:
            return 0.0
        return self.last_answered - self.first_sent

    def as_metadata(self) -> dict[str, int | float]:
        """Totals (`http_retries`...), then per endpoint (`/defi/multi_price http_retries`...),
        keyed like the bronze assets' record counts (`/defi/multi_price stored`)."""
        metadata: dict[str, int | float] = dict(self.total.as_metadata())
        for endpoint, counts in sorted(self.endpoints.items()):
            metadata |= counts.as_metadata(f"{endpoint} ")
        metadata["http_seconds"] = round(self.elapsed, 3)
        metadata["http_wire_seconds"] = round(self.wire_seconds, 3)
        return metadata


class Progress:
    """Logs done/total, pages, rows and request rate every `every` units of work."""

    def __init__(
        self, log: LogLike | None, what: str, total: int, every: int, stats: RequestStats
    ) -> None:
        self._log = log
        self._what = what
        self._total = total
        self._every = max(every, 1)
        self._stats = stats
        self.done = 0
        self.pages = 0
        self.rows = 0

    def page(self, rows: int) -> None:
        self.pages += 1
        self.rows += rows

    def unit_done(self) -> None:
        self.done += 1
        if self.done % self._every == 0 or self.done == self._total:
            self.report()

    def report(self) -> None:
        if self._log is None:
            return
        total, elapsed = self._stats.total, self._stats.elapsed
        self._log.info(
            f"{self._what}: {self.done}/{self._total} done, {self.pages} pages, {self.rows} rows, "
            f"{total.requests} requests in {elapsed:.1f}s "
            f"({total.requests / elapsed:.1f}/s), {total.retries} retries, "
            f"{total.statuses.get(429, 0)} x 429"
        )
