"""The lake: Delta tables under one root (a local folder or s3://bucket/prefix), no Dagster.

Every write of a partitioned table is ONE Delta commit that overwrites exactly the given days
(a predicate on the partition column), so re-materializing a day or a range never touches
another day, and a zero-row frame empties its days. A whole-table overwrite is impossible here:
no call writes mode="overwrite" without a predicate, and a frame holding rows of a day it does
not name is refused before anything is written (delta-rs refuses it too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa
import s3fs
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from smart_trader.schemas import SchemaError, TableSpec, schema_problems

_COMMIT_ATTEMPTS = 3
DAYS_WRITTEN = "smart_trader.days"


class LakeError(ValueError):
    """A lake operation was refused; the message says which table, column or days."""


def check_lake_uri(uri: str, setting: str = "SMART_TRADER_LAKE_URI") -> str:
    """A local folder (plain path or file://) or s3://bucket[/prefix]; anything else fails."""
    parsed = urlparse(uri)
    if not uri.strip():
        raise LakeError(f"{setting} is empty")
    if parsed.scheme == "s3":
        if not parsed.netloc or not uri.startswith("s3://"):
            raise LakeError(f"{setting}={uri!r} is not s3://<bucket>[/<prefix>]")
        return uri.rstrip("/")
    if parsed.scheme == "file":
        return str(Path(parsed.path).resolve())
    if parsed.scheme or ":/" in uri:  # a scheme we do not serve, or a mangled one
        raise LakeError(f"{setting}={uri!r}: expected a local folder or s3://<bucket>[/<prefix>]")
    return str(Path(uri).resolve())


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The spec's Arrow schema; non-null columns are declared non-nullable in the Delta log."""
    base = spec.empty().to_arrow().schema
    return pa.schema([f.with_nullable(f.name not in spec.non_null) for f in base])


@dataclass(frozen=True)
class Lake:
    root: str
    # deltalake key names (AWS_ENDPOINT_URL, AWS_REGION, ...); repr=False keeps keys out of logs
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", check_lake_uri(self.root))

    def table_uri(self, spec: TableSpec) -> str:
        return f"{self.root}/{spec.path}"

    @property
    def on_s3(self) -> bool:
        return self.root.startswith("s3://")

    def filesystem(self) -> s3fs.S3FileSystem:
        """The S3 lake as an fsspec filesystem (s3fs), from the same storage options."""
        return s3_filesystem(self.storage_options)

    def check_writable(self) -> None:
        """Write and remove a probe object at the root: fails fast, naming the lake, before a
        run spends API calls whose results it could not store."""
        probe = f"{self.root}/.smart_trader_write_probe"
        try:
            if self.on_s3:
                fs = self.filesystem()
                fs.pipe(probe, b"")
                fs.rm(probe)
            else:
                Path(self.root).mkdir(parents=True, exist_ok=True)
                Path(probe).write_bytes(b"")
                Path(probe).unlink()
        except Exception as exc:  # every store fails its own way; the message names the lake
            raise LakeError(
                f"lake {self.root} is not writable: {type(exc).__name__}: {exc}"
            ) from None

    def _options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None

    def _table(self, spec: TableSpec) -> DeltaTable | None:
        try:
            return DeltaTable(self.table_uri(spec), storage_options=self._options())
        except TableNotFoundError:
            return None

    def _created(self, spec: TableSpec) -> DeltaTable:
        """The table, created empty with the contract's schema if it does not exist yet, and
        given the contract's newer columns if it was created before them."""
        if (table := self._table(spec)) is not None:
            return self._with_new_columns(spec, table)
        try:
            return DeltaTable.create(
                self.table_uri(spec),
                arrow_schema(spec),
                mode="ignore",
                partition_by=[spec.partition_column] if spec.partition_column else None,
                storage_options=self._options(),
            )
        except CommitFailedError:
            # Concurrent first writes (a multi-run backfill on a fresh lake): one creates it.
            if (table := self._table(spec)) is None:
                raise
            return table

    def _with_new_columns(self, spec: TableSpec, table: DeltaTable) -> DeltaTable:
        """A column the contract added since the table was created is added to it (nullable:
        the rows written before have no value), so a lake survives an upgrade."""
        have = {f.name for f in table.schema().fields}
        new = [f for f in arrow_schema(spec) if f.name not in have]
        if not new:
            return table
        fields = DeltaSchema.from_arrow(pa.schema([f.with_nullable(True) for f in new])).fields
        table.alter.add_columns(fields)
        return self._table(spec) or table

    def version(self, spec: TableSpec) -> int | None:
        """The table's latest Delta version, None when it does not exist yet."""
        table = self._table(spec)
        return None if table is None else table.version()

    def commits_after(self, spec: TableSpec, version: int) -> list[dict[str, object]]:
        """The table's Delta commits newer than `version` (their history entries)."""
        table = self._table(spec)
        if table is None or table.version() <= version:
            return []
        return [c for c in table.history(table.version() - version) if c["version"] > version]

    def _conformed(self, spec: TableSpec, df: pl.DataFrame) -> pa.Table:
        problems = schema_problems(df.schema, spec)
        problems += [f"unexpected column {c}" for c in df.columns if c not in spec.schema]
        if problems:
            raise SchemaError(f"{spec.path}: " + "; ".join(problems))
        nulls = df.select(pl.col(sorted(spec.non_null)).null_count()).row(0, named=True)
        if bad := [name for name, count in nulls.items() if count]:
            raise SchemaError(f"{spec.path}: nulls in non-null columns {bad}")
        return df.select(spec.schema.names()).to_arrow().cast(arrow_schema(spec))

    def write_partitions(
        self,
        spec: TableSpec,
        df: pl.DataFrame,
        days: Iterable[date],
        within: tuple[str, Sequence[str]] | None = None,
    ) -> int:
        """Replace exactly `days` of the table with `df` in one commit; returns the new version.

        `within=(column, values)` narrows the replaced rows to those days' rows whose `column`
        is one of `values` (several writers sharing a partition, e.g. rejected_records per
        endpoint); the frame may then hold only such rows.
        """
        column = spec.partition_column
        if column is None:
            raise LakeError(f"{spec.path} is not partitioned: use append")
        wanted = sorted(set(days))
        if any(isinstance(d, datetime) for d in wanted):
            raise LakeError(f"{spec.path}: days must be dates, not datetimes")
        if not wanted:
            raise LakeError(f"{spec.path}: no days to write")
        data = self._conformed(spec, df)
        outside = sorted(set(df.get_column(column).unique().to_list()) - set(wanted))
        if outside:
            raise LakeError(
                f"{spec.path}: frame has rows for days {[d.isoformat() for d in outside]} "
                f"outside the days being written {wanted[0]}..{wanted[-1]}"
            )
        predicate = f"{column} IN ({_sql_list(d.isoformat() for d in wanted)})"
        if within is not None:
            name, values = within
            strays = sorted(set(df.get_column(name).unique().to_list()) - set(values))
            if strays or not values:
                raise LakeError(f"{spec.path}: rows with {name} {strays} outside {list(values)}")
            predicate += f" AND {name} IN ({_sql_list(values)})"
        # The days written, so readers can tell our commits from another writer's.
        commit = CommitProperties(
            custom_metadata={DAYS_WRITTEN: ",".join(d.isoformat() for d in wanted)}
        )
        return self._commit(
            spec,
            lambda table: write_deltalake(
                table, data, mode="overwrite", predicate=predicate, commit_properties=commit
            ),
        )

    def append(self, spec: TableSpec, df: pl.DataFrame) -> int:
        """Append to a non-partitioned, append-only table; returns the new version."""
        if spec.partition_column is not None:
            raise LakeError(
                f"{spec.path} is partitioned by {spec.partition_column}: use write_partitions"
            )
        data = self._conformed(spec, df)
        return self._commit(spec, lambda table: write_deltalake(table, data, mode="append"))

    def _commit(self, spec: TableSpec, write: Callable[[DeltaTable], None]) -> int:
        """Run one write commit; returns the table version it made.

        delta-rs resolves concurrent writes to other days itself; what it refuses is a write
        that raced the table's creation by another run (its metadata changed). That commit
        did not happen, so trying again on the reloaded table is safe.
        """
        for _ in range(_COMMIT_ATTEMPTS - 1):
            table = self._created(spec)
            try:
                write(table)
                return table.version()
            except CommitFailedError:
                continue
        table = self._created(spec)
        write(table)
        return table.version()

    def scan(self, spec: TableSpec, days: Sequence[date] | None = None) -> pl.LazyFrame:
        """The table's rows (of `days` only, when given); a missing table reads as empty."""
        if days is not None and spec.partition_column is None:
            raise LakeError(f"{spec.path} is not partitioned: scan it without days")
        table = self._table(spec)
        frame = spec.empty().lazy() if table is None else pl.scan_delta(table)
        if days is not None and spec.partition_column is not None:
            frame = frame.filter(pl.col(spec.partition_column).is_in(sorted(set(days))))
        return frame

    def read_day(self, spec: TableSpec, day: date) -> pl.DataFrame:
        """One day of a partitioned table (for asset checks)."""
        return self.scan(spec, [day]).collect()

    def days_present(self, spec: TableSpec, days: Iterable[date]) -> set[date]:
        """Which of `days` hold at least one row, from the Delta log (no data file is read)."""
        column = spec.partition_column
        if column is None:
            raise LakeError(f"{spec.path} is not partitioned")
        table = self._table(spec)
        if table is None:
            return set()
        stored = {date.fromisoformat(p[column]) for p in table.partitions() if p[column]}
        return stored & set(days)


def s3_filesystem(storage_options: dict[str, str]) -> s3fs.S3FileSystem:
    """s3fs from deltalake's storage option names; a few quick retries, no metadata lookups."""
    options = storage_options
    return s3fs.S3FileSystem(
        key=options.get("AWS_ACCESS_KEY_ID"),
        secret=options.get("AWS_SECRET_ACCESS_KEY"),
        token=options.get("AWS_SESSION_TOKEN"),
        endpoint_url=options.get("AWS_ENDPOINT_URL"),
        client_kwargs={"region_name": options.get("AWS_REGION", "us-east-1")},
        config_kwargs={"connect_timeout": 5, "read_timeout": 30, "retries": {"max_attempts": 2}},
        skip_instance_cache=True,
    )


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)
