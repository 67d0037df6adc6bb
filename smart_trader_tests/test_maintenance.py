"""Delta upkeep on real tables (local and SeaweedFS S3): compaction, vacuum inside the
time-travel window, orphans of killed writes; time travel by version and by timestamp."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow.fs as pafs
from deltalake import DeltaTable

from smart_trader.defs.maintenance import maintenance_defs
from smart_trader.lake import Lake
from smart_trader.maintenance import filesystem, find_tables, read_as_of, upkeep_table
from smart_trader.resources.lake import LakeResource
from smart_trader.schemas import HELIUS_SYNC_LOG, TOKEN_METRICS, TableSpec
from smart_trader.settings import Settings
from smart_trader_tests.fixtures_s3 import LakeLocation

DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(3)]
WEEK = dt.timedelta(days=7)
REWRITES, TOKENS = 2, 3


def rows(spec: TableSpec, count: int, **fixed: object) -> pl.DataFrame:
    """`count` rows of the spec's schema: every column filled with a value of its type."""
    stamp = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    samples = {pl.Date: DAYS[0], pl.String: "x", pl.Boolean: False, pl.Datetime: stamp}
    data = {
        name: [fixed.get(name, samples.get(dtype.base_type(), i)) for i in range(count)]
        for name, dtype in spec.schema.items()
    }
    return pl.DataFrame(data, schema=spec.schema, strict=False)


def metrics_rows(day: dt.date, count: int) -> pl.DataFrame:
    return rows(TOKEN_METRICS, count, snapshot_date=day).with_columns(
        token_address=pl.format("token-{}", pl.int_range(count))
    )


def build_history(lake: Lake) -> dict[int, pl.DataFrame]:
    """Many small files: each (day, token) row rewritten several times by its own writer
    (`within` replaces one token's rows of a day), one file per write; the rows of every version."""
    versions: dict[int, pl.DataFrame] = {}
    for rewrite in range(REWRITES):
        for day in DAYS:
            for token in range(TOKENS):
                row = metrics_rows(day, 1).with_columns(
                    token_address=pl.lit(f"token-{token}"), liquidity_usd=pl.lit(float(rewrite))
                )
                within = ("token_address", [f"token-{token}"])
                version = lake.write_partitions(TOKEN_METRICS, row, [day], within=within)
                versions[version] = lake.scan(TOKEN_METRICS).collect()
    return versions


def plant_orphans(location: LakeLocation, uri: str, age: dt.timedelta) -> list[str]:
    """Files a killed write leaves: an uncommitted data file and a temporary upload file."""
    fs, path = filesystem(uri, location.storage_options)
    part = f"{path}/snapshot_date={DAYS[0].isoformat()}"
    names = [f"{part}/part-00000-killed-write.c000.snappy.parquet", f"{part}/part-00001.parquet#1"]
    for name in names:
        with fs.open_output_stream(name) as out:
            out.write(b"half a parquet file")
    if age and isinstance(fs, pafs.LocalFileSystem):
        stamp = time.time() - age.total_seconds()
        for name in names:
            os.utime(name, (stamp, stamp))
    return names


def sorted_rows(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(["snapshot_date", "token_address"])


def test_upkeep_compacts_keeps_every_version_of_the_window_and_drops_orphans(
    lake_location: LakeLocation,
) -> None:
    lake = Lake(lake_location.uri, lake_location.storage_options)
    versions = build_history(lake)
    uri = lake.table_uri(TOKEN_METRICS)
    local = lake_location.uri.startswith("/")
    # Locally the orphans are made old; on S3 their time is the server's (young).
    orphans = plant_orphans(lake_location, uri, 30 * WEEK if local else dt.timedelta(0))

    report = upkeep_table(uri, lake_location.storage_options, WEEK)

    assert report.active_before.files == len(DAYS) * TOKENS  # a file per (day, token)...
    writes = REWRITES * len(DAYS) * TOKENS  # ...and every rewrite left the old one
    assert report.stored_before.files == writes + len(orphans)
    assert report.active_after.files == len(DAYS)  # compacted: one file per day
    assert report.files_compacted == len(DAYS) * TOKENS
    fs, _ = filesystem(uri, lake_location.storage_options)
    left = [fs.get_file_info(name).type != pafs.FileType.NotFound for name in orphans]
    if local:  # orphans older than the window are gone; no version referenced them
        assert left == [False, False]
        assert report.temp_files_removed == 1 and report.files_vacuumed == 1
        assert report.stored_after.files == writes + len(DAYS)
    else:  # a young untracked file may be a live writer's: kept
        assert left == [True, True]
        assert report.stored_after.files == writes + len(DAYS) + len(orphans)
    # Every version inside the window reads exactly as it did.
    for version, rows in versions.items():
        assert_equal(read_as_of(uri, version, lake_location.storage_options).collect(), rows)
    assert_equal(lake.scan(TOKEN_METRICS).collect(), versions[max(versions)])


def assert_equal(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert sorted_rows(got).equals(sorted_rows(want))


def test_upkeep_compacts_small_files_and_vacuums_what_no_kept_version_needs(
    tmp_path: Path,
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    for batch in range(12):  # an append-only table: one small file per append
        lake.append(HELIUS_SYNC_LOG, sync_log_rows(batch))
    uri = lake.table_uri(HELIUS_SYNC_LOG)
    rows = lake.scan(HELIUS_SYNC_LOG).collect()

    first = upkeep_table(uri, {}, WEEK)
    assert (first.active_before.files, first.active_after.files) == (12, 1)
    assert first.files_compacted == 12
    assert first.stored_after.files == 13  # the 12 small files are still needed by versions 0-11
    assert read_as_of(uri, 5).collect().height == 5 * 2  # version 0 created it empty

    # A week later: no version before the compaction is inside the window any more.
    later = upkeep_table(uri, {}, dt.timedelta(0))
    assert later.files_vacuumed == 12
    assert later.stored_after == later.active_after and later.stored_after.files == 1
    assert_sync_log_equal(lake.scan(HELIUS_SYNC_LOG).collect(), rows)


def sync_log_rows(batch: int) -> pl.DataFrame:
    return rows(HELIUS_SYNC_LOG, 2, status=f"batch-{batch}")


def assert_sync_log_equal(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.sort(got.columns).equals(want.sort(want.columns))


def test_time_travel_by_timestamp_reads_the_table_as_it_was(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write_partitions(TOKEN_METRICS, metrics_rows(DAYS[0], 1), [DAYS[0]])
    uri = lake.table_uri(TOKEN_METRICS)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    two = metrics_rows(DAYS[0], 2)
    lake.write_partitions(TOKEN_METRICS, two, [DAYS[0]])
    assert read_as_of(uri, between).collect().height == 1
    assert read_as_of(uri, dt.datetime.now(dt.UTC)).collect().height == 2
    assert pl.scan_delta(uri, version=DeltaTable(uri).version() - 1).collect().height == 1


def test_find_tables_lists_the_lake_layout(lake_location: LakeLocation) -> None:
    lake = Lake(lake_location.uri, lake_location.storage_options)
    lake.write_partitions(TOKEN_METRICS, metrics_rows(DAYS[0], 1), [DAYS[0]])
    lake.append(HELIUS_SYNC_LOG, sync_log_rows(0))
    assert find_tables(lake_location.uri, lake_location.storage_options) == [
        lake.table_uri(TOKEN_METRICS),
        lake.table_uri(HELIUS_SYNC_LOG),
    ]


def output_metadata(result: dg.ExecuteInProcessResult) -> Mapping[str, Any]:
    """The metadata of the maintenance op's one output."""
    return next(
        e.event_specific_data.metadata  # type: ignore[union-attr]
        for e in result.all_node_events
        if e.event_type == dg.DagsterEventType.STEP_OUTPUT
    )


def test_maintenance_job_reports_files_before_and_after(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    for batch in range(5):
        lake.append(HELIUS_SYNC_LOG, sync_log_rows(batch))
    lake.write_partitions(TOKEN_METRICS, metrics_rows(DAYS[0], 2), [DAYS[0]])
    defs = dg.Definitions.merge(
        maintenance_defs(Settings(time_travel_days=3)),
        dg.Definitions(resources={"lake": LakeResource(lake_uri=lake.root)}),
    )
    schedule = defs.get_schedule_def("lake_maintenance_weekly")
    assert schedule.cron_schedule == "0 3 * * 0"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    result = defs.get_job_def("lake_maintenance").execute_in_process()

    assert result.success
    output = result.get_step_success_events()[0].step_success_data  # the op's one step
    assert output is not None
    metadata = output_metadata(result)
    assert metadata["tables"].value == 2
    assert metadata["files_before"].value == 6 and metadata["files_after"].value == 7
    assert metadata["time_travel_days"].value == 3
    observed = {
        e.asset_observation_data.asset_observation.asset_key.to_user_string(): e  # type: ignore[union-attr]
        for e in result.all_node_events
        if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    }
    assert set(observed) == {"bronze/token_metrics", "monitoring/helius_sync_log"}
    sync_log = observed["monitoring/helius_sync_log"].asset_observation_data.asset_observation  # type: ignore[union-attr]
    assert sync_log.metadata["active_files_before"].value == 5
    assert sync_log.metadata["active_files_after"].value == 1


def test_maintenance_of_a_lake_without_tables_reports_zero(tmp_path: Path) -> None:
    """A fresh deployment's first weekly run: nothing to compact, and no failure."""
    defs = dg.Definitions.merge(
        maintenance_defs(Settings()),
        dg.Definitions(resources={"lake": LakeResource(lake_uri=str(tmp_path / "lake"))}),
    )
    result = defs.get_job_def("lake_maintenance").execute_in_process()
    assert result.success
    metadata = output_metadata(result)
    assert metadata["tables"].value == 0
    assert metadata["files_before"].value == 0 and metadata["bytes_after"].value == 0
