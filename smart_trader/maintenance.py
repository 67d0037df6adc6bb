"""Delta upkeep of the lake's tables, and time travel; no Dagster.

Every overwrite of a day leaves its old files behind (the versions before it still need them),
small writes make small files, and a killed write can leave files no version references. Upkeep
of one table, in this order:
1. OPTIMIZE: compact the small files of each partition into few large ones (a new version with
   the same rows; delta-rs refuses it if another writer commits meanwhile, so nothing is lost).
2. VACUUM (full): delete the files no version inside the time-travel window needs, and the
   untracked files (uncommitted writes) older than the window. A file removed by a commit
   younger than the window is kept, so the table reads as it was at any time inside it.
3. Temporary upload files (`<name>.parquet#<n>`) that a killed local write left: delta-rs's
   vacuum does not see them; one older than an hour belongs to no live write.
4. A checkpoint, then expired log files (delta.logRetentionDuration, 30 days by default; the
   time-travel setting is capped below it, so no version inside the window loses its log).

Time travel: `read_as_of(uri, version_or_time)`; any Delta reader works the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import polars as pl
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

TEMP_FILE = re.compile(r"\.parquet#\d+$")
TEMP_FILE_AGE = timedelta(hours=1)
LOG_DIR = "_delta_log"


@dataclass(frozen=True)
class FileStats:
    files: int
    bytes: int


@dataclass(frozen=True)
class UpkeepReport:
    """One table's upkeep: `active` counts the latest version's files, `stored` every file
    under the table's folder but its log."""

    table: str
    version_before: int
    version_after: int
    active_before: FileStats
    active_after: FileStats
    stored_before: FileStats
    stored_after: FileStats
    files_compacted: int
    files_vacuumed: int
    temp_files_removed: int


def filesystem(uri: str, storage_options: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path of `uri` on it (local folder or s3://bucket/prefix)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        return pafs.LocalFileSystem(), uri
    endpoint = storage_options.get("AWS_ENDPOINT_URL", "")
    fs = pafs.S3FileSystem(
        access_key=storage_options.get("AWS_ACCESS_KEY_ID"),
        secret_key=storage_options.get("AWS_SECRET_ACCESS_KEY"),
        session_token=storage_options.get("AWS_SESSION_TOKEN"),
        region=storage_options.get("AWS_REGION", "us-east-1"),
        endpoint_override=urlparse(endpoint).netloc or None,
        scheme=urlparse(endpoint).scheme or "https",
    )
    return fs, f"{parsed.netloc}{parsed.path}".rstrip("/")


def find_tables(root: str, storage_options: Mapping[str, str]) -> list[str]:
    """URIs of the Delta tables at <root>/<layer>/<table> (the lake's layout)."""
    fs, base = filesystem(root, storage_options)
    found = []
    for layer in fs.get_file_info(pafs.FileSelector(base, allow_not_found=True)):
        if layer.type != pafs.FileType.Directory:
            continue
        for table in fs.get_file_info(pafs.FileSelector(layer.path)):
            log = fs.get_file_info(f"{table.path}/{LOG_DIR}")
            if table.type == pafs.FileType.Directory and log.type == pafs.FileType.Directory:
                found.append(f"{root.rstrip('/')}/{layer.base_name}/{table.base_name}")
    return sorted(found)


def _stored(fs: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    listing = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    prefix = f"{path}/{LOG_DIR}/"
    return [f for f in listing if f.type == pafs.FileType.File and not f.path.startswith(prefix)]


def _stats(files: list[pafs.FileInfo]) -> FileStats:
    return FileStats(len(files), sum(f.size or 0 for f in files))


def _active(table: DeltaTable) -> FileStats:
    sizes = pl.DataFrame(table.get_add_actions(flatten=True)).get_column("size_bytes")
    return FileStats(sizes.len(), int(sizes.sum()))


def upkeep_table(
    uri: str,
    storage_options: Mapping[str, str],
    time_travel: timedelta,
    now: datetime | None = None,
) -> UpkeepReport:
    """Compact, vacuum outside `time_travel`, drop stale temporary files; see the module doc."""
    options = dict(storage_options) or None
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError as exc:
        raise ValueError(f"{uri}: not a Delta table") from exc
    fs, path = filesystem(uri, storage_options)
    version_before, active_before = table.version(), _active(table)
    stored_before = _stats(_stored(fs, path))

    compacted = table.optimize.compact()
    vacuumed = table.vacuum(
        retention_hours=int(time_travel.total_seconds() // 3600),
        dry_run=False,
        enforce_retention_duration=False,  # the time-travel setting decides, not the default week
        full=True,
    )
    cutoff = (now or datetime.now(UTC)) - TEMP_FILE_AGE
    stale = [
        f
        for f in _stored(fs, path)
        if TEMP_FILE.search(f.path) and f.mtime is not None and f.mtime < cutoff
    ]
    for f in stale:
        fs.delete_file(f.path)
    table.create_checkpoint()
    table.cleanup_metadata()

    return UpkeepReport(
        table=uri,
        version_before=version_before,
        version_after=table.version(),
        active_before=active_before,
        active_after=_active(table),
        stored_before=stored_before,
        stored_after=_stats(_stored(fs, path)),
        files_compacted=int(compacted["numFilesRemoved"]),
        files_vacuumed=len(vacuumed),
        temp_files_removed=len(stale),
    )


def read_as_of(
    uri: str, as_of: int | datetime, storage_options: Mapping[str, str] | None = None
) -> pl.LazyFrame:
    """The table as it was at Delta version `as_of`, or at the time `as_of` (the last version
    committed at or before it); inside the time-travel window every such read is complete."""
    table = DeltaTable(uri, storage_options=dict(storage_options or {}) or None)
    table.load_as_version(as_of)
    return pl.scan_delta(table)
