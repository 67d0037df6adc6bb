"""Pages of one sorted list → fresh rows, each received record accounted for once."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Generic, TypeVar

from smart_trader.ingest.ledger import Ledger, Outcome, Rejection

K = TypeVar("K")
P = TypeVar("P")


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
