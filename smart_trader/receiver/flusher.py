"""The receiver's background flusher: spool → bronze/webhook_events, live_swaps, rejected_records.

Runs after the 200, in a child process of the receiver (parsing is CPU-bound Python: in the
receiver's process it would hold the GIL the request path needs). Each flush reads the spooled
deliveries after its cursor, parses them, appends what is new to each table (one Delta commit
per table), and only then moves the cursor. Every table is deduplicated on its own key against
what it already holds (webhook_events: signature and wallet; live_swaps: transaction_history's
key; rejected records: the raw item), so a delivery received twice, or a flush repeated after a
crash between two commits, never stores a row twice.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl
from deltalake import write_deltalake

from smart_trader import schemas
from smart_trader.lake import Lake, arrow_schema
from smart_trader.receiver.frames import Received, events_frame, rejected_frame, swaps_frame
from smart_trader.receiver.parse import ENDPOINT, parse_body
from smart_trader.receiver.spool import (
    DurableCell,
    Position,
    load_cursor,
    read_durable,
    read_records,
    save_cursor,
)

_logger = logging.getLogger(__name__)

MAX_FLUSH_BYTES = 32 * 1024 * 1024
FLUSHER_LOCK_FILE = "flusher.lock"
ERROR_FILE = "flush_error.txt"
FLUSHER_NICENESS = 10


class EventLike(Protocol):
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


_KEY_SEPARATOR = "\x1f"


@dataclass
class FlushReport:
    deliveries: int = 0
    items: int = 0
    written: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)


def _keys(frame: pl.DataFrame, columns: tuple[str, ...]) -> list[str]:
    return (
        frame.select(
            pl.concat_str([pl.col(c).cast(pl.String) for c in columns], separator=_KEY_SEPARATOR)
        )
        .to_series()
        .to_list()
    )


def append_rows(lake: Lake, spec: schemas.TableSpec, frame: pl.DataFrame) -> None:
    """One Delta commit appending `frame`'s rows to their partitions."""
    data = schemas.conform(frame, spec).to_arrow().cast(arrow_schema(spec))
    write_deltalake(
        lake.table_uri(spec),
        data,
        mode="append",
        partition_by=[spec.partition_column] if spec.partition_column else None,
        storage_options=dict(lake.storage_options) or None,
    )


class _Table:
    """One table the flusher appends to, with the keys it holds per day (read once per day)."""

    def __init__(
        self,
        spec: schemas.TableSpec,
        key: tuple[str, ...],
        build: Callable[[list[Received]], pl.DataFrame],
        stored_filter: pl.Expr | None = None,
    ) -> None:
        self.spec = spec
        self.key = key
        self.build = build
        self.stored_filter = stored_filter
        self.seen: dict[dt.date, set[str]] = {}

    def _seen_on(self, lake: Lake, day: dt.date) -> set[str]:
        if day not in self.seen:
            stored = lake.scan(self.spec, [day])
            if self.stored_filter is not None:
                stored = stored.filter(self.stored_filter)
            self.seen[day] = set(_keys(stored.select(self.key).collect(), self.key))
        return self.seen[day]

    def write_new(self, lake: Lake, received: list[Received]) -> tuple[int, int]:
        """Append the rows not stored yet; (written, duplicates)."""
        frame = self.build(received)
        if frame.is_empty():
            return 0, 0
        column = self.spec.partition_column
        assert column is not None
        keys = _keys(frame, self.key)
        days = frame.get_column(column).to_list()
        fresh: list[bool] = []
        batch: set[str] = set()
        for day, key in zip(days, keys, strict=True):
            new = key not in batch and key not in self._seen_on(lake, day)
            batch.add(key)
            fresh.append(new)
        new_rows = frame.filter(pl.Series(fresh))
        if not new_rows.is_empty():
            append_rows(lake, self.spec, new_rows)
        for day, key, new in zip(days, keys, fresh, strict=True):
            if new:
                self.seen[day].add(key)
        return new_rows.height, frame.height - new_rows.height


class Flusher:
    """Flushes the spool in `directory` up to its durable end (read from the spool's cell)."""

    def __init__(self, directory: Path, lake: Lake, cell: DurableCell) -> None:
        self.directory = directory
        self.lake = lake
        self.cell = cell
        self.cursor = load_cursor(directory)
        self._tables = [
            _Table(schemas.WEBHOOK_EVENTS, schemas.WEBHOOK_EVENTS.key, events_frame),
            _Table(schemas.LIVE_SWAPS, schemas.LIVE_SWAPS.key, swaps_frame),
            _Table(
                schemas.REJECTED_RECORDS,
                ("raw_record",),
                rejected_frame,
                pl.col("endpoint") == ENDPOINT,
            ),
        ]

    def pending(self) -> bool:
        return self.cursor < read_durable(self.cell)

    def flush_once(self) -> FlushReport:
        """Write everything spooled after the cursor (up to MAX_FLUSH_BYTES); move the cursor."""
        report = FlushReport()
        received: list[Received] = []
        position: Position | None = None
        size = 0
        for record in read_records(self.directory, self.cursor, read_durable(self.cell)):
            at = dt.datetime.fromtimestamp(record.received_us / 1e6, dt.UTC)
            received += [Received(item, at) for item in parse_body(record.body)]
            report.deliveries += 1
            position = record.end
            size += len(record.body)
            if size >= MAX_FLUSH_BYTES:
                break
        if position is None:
            return report
        report.items = len(received)
        for table in self._tables:
            written, duplicates = table.write_new(self.lake, received)
            report.written[table.spec.path] = written
            report.duplicates[table.spec.path] = duplicates
        save_cursor(self.directory, position)
        self.cursor = position
        return report


def run_flusher(
    directory: Path,
    lake: Lake,
    cell: DurableCell,
    stop: EventLike,
    interval_seconds: float,
    receiver: int,
) -> None:
    """The flusher process's loop: flush while deliveries are pending, until `stop` is set or
    its parent is no longer `receiver` (the receiver's pid, taken by the receiver: it may die
    while this process is still importing, and then getppid() here would already be init's).

    It runs at a lower priority (nice +FLUSHER_NICENESS): under load the CPU goes first to the
    request path, whose answers Helius times; the flusher catches up from the spool after."""
    os.nice(FLUSHER_NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # One flusher per spool: a restarted receiver's flusher waits for a previous one to end.
    lock_fd = os.open(directory / FLUSHER_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    flusher = Flusher(directory, lake, cell)
    error_file = directory / ERROR_FILE
    while True:
        # A receiver killed outright (SIGKILL) leaves this process to init: stop, so that the
        # restarted receiver's flusher takes over the spool (it waits on the lock).
        stopping = stop.is_set() or os.getppid() != receiver
        if flusher.pending():
            try:
                report = flusher.flush_once()
                error_file.unlink(missing_ok=True)
                _logger.info(
                    "flushed %d deliveries, %d items: written %s, duplicates %s",
                    report.deliveries,
                    report.items,
                    report.written,
                    report.duplicates,
                )
                continue
            except Exception as exc:  # the lake may be unreachable: keep the spool, retry
                error_file.write_text(f"{type(exc).__name__}: {exc}"[:500])
                _logger.exception("flush failed; the deliveries stay spooled and are retried")
                if stopping:
                    return
                stop.wait(interval_seconds * 4)
                continue
        if stopping:
            return
        stop.wait(interval_seconds)


def flush_error(directory: Path) -> str | None:
    """The last flush's error, if it failed."""
    try:
        return (directory / ERROR_FILE).read_text()
    except FileNotFoundError:
        return None
