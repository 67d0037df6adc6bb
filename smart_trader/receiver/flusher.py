"""The receiver's background flusher: spool → bronze/webhook_events, live_swaps, rejected_records.

Runs after the 200, in a thread of the receiver. Each flush reads the spooled deliveries after
its cursor, parses them, appends what is new to each table (one Delta commit per table), and
only then moves the cursor. Every table is deduplicated on its own key against what it already
holds (webhook_events: signature and wallet; live_swaps: transaction_history's key; rejected
records: the raw item), so a delivery received twice, or a flush repeated after a crash between
two commits, never stores a row twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from deltalake import write_deltalake

from smart_trader import schemas
from smart_trader.lake import Lake, arrow_schema
from smart_trader.receiver.frames import Received, events_frame, rejected_frame, swaps_frame
from smart_trader.receiver.parse import ENDPOINT, BodyError, Rejected, parse_item, split_items
from smart_trader.receiver.spool import Position, Spool, load_cursor, read_records, save_cursor

_logger = logging.getLogger(__name__)

MAX_FLUSH_BYTES = 32 * 1024 * 1024
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


def _append(lake: Lake, spec: schemas.TableSpec, frame: pl.DataFrame) -> None:
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
            _append(lake, self.spec, new_rows)
        for day, key, new in zip(days, keys, fresh, strict=True):
            if new:
                self.seen[day].add(key)
        return new_rows.height, frame.height - new_rows.height


class Flusher:
    def __init__(self, spool: Spool, lake: Lake, interval_seconds: float = 0.5) -> None:
        self.spool = spool
        self.lake = lake
        self.interval_seconds = interval_seconds
        self.cursor = load_cursor(spool.directory)
        self.last_error: str | None = None
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def flush_once(self) -> FlushReport:
        """Write everything spooled after the cursor (up to MAX_FLUSH_BYTES); move the cursor."""
        report = FlushReport()
        end = self.spool.durable
        received: list[Received] = []
        position: Position | None = None
        size = 0
        for record in read_records(Path(self.spool.directory), self.cursor, end):
            at = dt.datetime.fromtimestamp(record.received_us / 1e6, dt.UTC)
            try:
                items = [parse_item(raw) for raw in split_items(record.body)]
            except BodyError as exc:
                # The receiver only spools JSON arrays; a body that still fails is kept whole.
                items = [Rejected(f"body: {exc}", record.body.decode("utf-8", "replace"))]
            received += [Received(item, at) for item in items]
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
        save_cursor(self.spool.directory, position)
        self.cursor = position
        return report

    def pending(self) -> bool:
        return self.cursor < self.spool.durable

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="spool-flusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.pending():
                self.spool.wait_for_append(self.interval_seconds)
                continue
            try:
                report = self.flush_once()
                self.last_error = None
                _logger.info(
                    "flushed %d deliveries, %d items: written %s, duplicates %s",
                    report.deliveries,
                    report.items,
                    report.written,
                    report.duplicates,
                )
            except Exception as exc:  # the lake may be unreachable: keep the spool, retry
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                _logger.exception("flush failed; the deliveries stay spooled and are retried")
                self._stop.wait(self.interval_seconds * 4)
        if self.pending():
            self.flush_once()
