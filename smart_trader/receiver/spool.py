"""The receiver's durable spool: an append-only log of delivery bodies, fsync'd before the 200.

Records live in numbered segment files `<n>.spool`. A record is a 20-byte header (magic, body
length, CRC-32 of the body, receive time in µs) followed by the body, so a record torn by a crash
(never acknowledged: the 200 follows the fsync) is recognised and cut off when the spool reopens.

Appends are group-committed: one writer thread writes every body waiting in its queue and fsyncs
once for all of them, so concurrent deliveries share the cost of an fsync. The end of the fsync'd
records is published in a shared-memory cell that the flusher process reads: it never reads past
it, so nothing that a crash could still cut off reaches the lake or the cursor. One receiver owns
a spool directory (an exclusive lock on `spool.lock`).

A position is (segment, offset). The flusher reads records from its cursor (kept in
`cursor.json`, replaced atomically) and deletes segments it has passed.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import SynchronizedArray

MAGIC = b"STS1"
HEADER = struct.Struct("<4sIIQ")  # magic, body length, crc32(body), received_at (µs since epoch)
SEGMENT_BYTES = 64 * 1024 * 1024
CURSOR_FILE = "cursor.json"
LOCK_FILE = "spool.lock"

DurableCell: TypeAlias = "SynchronizedArray[Any]"


def durable_cell() -> DurableCell:
    """Shared memory for the durable end: (segment, offset)."""
    return multiprocessing.get_context("spawn").Array("q", 2)


def read_durable(cell: DurableCell) -> Position:
    with cell.get_lock():
        return Position(int(cell[0]), int(cell[1]))


@dataclass(frozen=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True)
class Record:
    body: bytes
    received_us: int
    end: Position  # where the next record starts


def _segment_path(directory: Path, segment: int) -> Path:
    return directory / f"{segment:010d}.spool"


def _segments(directory: Path) -> list[int]:
    return sorted(int(p.stem) for p in directory.glob("*.spool") if p.stem.isdigit())


def _valid_length(path: Path) -> int:
    """Bytes of `path` up to the end of its last complete record."""
    good = 0
    with path.open("rb") as fh:
        while True:
            header = fh.read(HEADER.size)
            if len(header) < HEADER.size:
                return good
            magic, length, crc, _ = HEADER.unpack(header)
            body = fh.read(length)
            if magic != MAGIC or len(body) < length or zlib.crc32(body) != crc:
                return good
            good += HEADER.size + length


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The writing side; one per spool directory (one receiver process)."""

    def __init__(
        self,
        directory: Path | str,
        cell: DurableCell | None = None,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise RuntimeError(f"spool {self.directory} is in use by another receiver") from None
        self.cell = cell if cell is not None else durable_cell()
        self.segment_bytes = segment_bytes
        segments = _segments(self.directory)
        self._segment = segments[-1] if segments else 0
        path = _segment_path(self.directory, self._segment)
        if path.exists():
            # A crash can leave a torn last record (never acknowledged): cut it off.
            with path.open("r+b") as fh:
                fh.truncate(_valid_length(path))
                os.fsync(fh.fileno())
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_directory(self.directory)
        self._offset = os.fstat(self._fd).st_size
        self._publish(Position(self._segment, self._offset))
        self._queue: queue.SimpleQueue[tuple[bytes, Future[Position]] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="spool-writer", daemon=True)
        self._writer.start()

    def append(self, body: bytes) -> Future[Position]:
        """Queue `body`; the future resolves once it is on disk (fsync'd)."""
        done: Future[Position] = Future()
        self._queue.put((body, done))
        return done

    @property
    def durable(self) -> Position:
        """The end of the fsync'd records."""
        return read_durable(self.cell)

    def _publish(self, end: Position) -> None:
        with self.cell.get_lock():
            self.cell[0], self.cell[1] = end.segment, end.offset

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join()
        os.close(self._fd)
        os.close(self._lock_fd)  # releases the lock

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(more)
            try:
                self._write(batch)
            except OSError as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)

    def _write(self, batch: list[tuple[bytes, Future[Position]]]) -> None:
        if self._offset >= self.segment_bytes:
            self._rotate()
        now_us = time.time_ns() // 1000
        chunks = []
        for body, _ in batch:
            chunks.append(HEADER.pack(MAGIC, len(body), zlib.crc32(body), now_us))
            chunks.append(body)
        data = b"".join(chunks)
        written = 0
        while written < len(data):
            written += os.write(self._fd, memoryview(data)[written:])
        os.fsync(self._fd)
        self._offset += len(data)
        end = Position(self._segment, self._offset)
        self._publish(end)
        for _, done in batch:
            done.set_result(end)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._segment += 1
        self._fd = os.open(
            _segment_path(self.directory, self._segment),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND,
            0o600,
        )
        _fsync_directory(self.directory)
        self._offset = 0


def read_records(directory: Path | str, start: Position, end: Position) -> Iterator[Record]:
    """The records from `start` up to `end` (a durable position), in order."""
    directory = Path(directory)
    for segment in _segments(directory):
        if segment < start.segment or segment > end.segment:
            continue
        offset = start.offset if segment == start.segment else 0
        stop = end.offset if segment == end.segment else None
        with _segment_path(directory, segment).open("rb") as fh:
            fh.seek(offset)
            while stop is None or offset < stop:
                header = fh.read(HEADER.size)
                if len(header) < HEADER.size:
                    break
                magic, length, crc, received_us = HEADER.unpack(header)
                body = fh.read(length)
                if magic != MAGIC or len(body) < length or zlib.crc32(body) != crc:
                    raise ValueError(f"spool segment {segment} is corrupt at offset {offset}")
                offset += HEADER.size + length
                yield Record(body, received_us, Position(segment, offset))


def load_cursor(directory: Path | str) -> Position:
    path = Path(directory) / CURSOR_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return Position(0, 0)
    return Position(int(data["segment"]), int(data["offset"]))


def save_cursor(directory: Path | str, position: Position) -> None:
    """Replace the cursor atomically, then drop the segments wholly before it."""
    directory = Path(directory)
    tmp = directory / f".{CURSOR_FILE}.tmp"
    with tmp.open("w") as fh:
        json.dump({"segment": position.segment, "offset": position.offset}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / CURSOR_FILE)
    _fsync_directory(directory)
    for segment in _segments(directory):
        if segment < position.segment:
            _segment_path(directory, segment).unlink()
