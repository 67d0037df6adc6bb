"""The lake's weekly upkeep as a job: every Delta table compacted and vacuumed, keeping
`time_travel_days` of time travel (smart_trader.maintenance does the work)."""

from datetime import timedelta

import dagster as dg
import polars as pl
from deltalake.exceptions import CommitFailedError

from smart_trader.defs.metadata import markdown_table
from smart_trader.maintenance import UpkeepReport, find_tables, upkeep_table
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

WEEKLY_AT_SUNDAY_0300 = "0 3 * * 0"


def _observation(report: UpkeepReport, root: str) -> dg.AssetObservation:
    key = dg.AssetKey(report.table.removeprefix(root.rstrip("/") + "/").split("/"))
    return dg.AssetObservation(
        asset_key=key,
        metadata={
            "delta_version": report.version_after,
            "files_before": report.stored_before.files,
            "files_after": report.stored_after.files,
            "bytes_before": report.stored_before.bytes,
            "bytes_after": report.stored_after.bytes,
            "active_files_before": report.active_before.files,
            "active_files_after": report.active_after.files,
            "files_compacted": report.files_compacted,
            "files_vacuumed": report.files_vacuumed,
            "temp_files_removed": report.temp_files_removed,
        },
    )


def build_maintenance_job(settings: Settings) -> dg.JobDefinition:
    retention = timedelta(days=settings.time_travel_days)

    @dg.op(
        name="lake_upkeep",
        pool="lake_maintenance",
        description=f"OPTIMIZE, VACUUM keeping {settings.time_travel_days} days of time travel "
        "(SMART_TRADER_TIME_TRAVEL_DAYS), and removal of killed writes' files, on every table.",
    )
    def lake_upkeep(context: dg.OpExecutionContext, lake: LakeResource) -> dg.Output[None]:
        store = lake.lake()
        reports, refused = [], []
        for uri in find_tables(store.root, store.storage_options):
            try:
                report = upkeep_table(uri, store.storage_options, retention)
            except CommitFailedError as exc:  # a writer committed meanwhile: next week's run
                refused.append(f"{uri}: {exc}")
                continue
            reports.append(report)
            context.log_event(_observation(report, store.root))
        if refused:
            raise dg.Failure(
                f"upkeep refused on {len(refused)} table(s), the others are done: "
                + "; ".join(refused)
            )
        summary = pl.DataFrame(
            {
                "table": [r.table.removeprefix(store.root + "/") for r in reports],
                "files_before": [r.stored_before.files for r in reports],
                "files_after": [r.stored_after.files for r in reports],
                "bytes_before": [r.stored_before.bytes for r in reports],
                "bytes_after": [r.stored_after.bytes for r in reports],
                "active_files_after": [r.active_after.files for r in reports],
            }
        )
        return dg.Output(
            None,
            metadata={
                "tables": len(reports),
                "files_before": sum(summary["files_before"].cast(pl.Int64)),
                "files_after": sum(summary["files_after"].cast(pl.Int64)),
                "bytes_before": sum(summary["bytes_before"].cast(pl.Int64)),
                "bytes_after": sum(summary["bytes_after"].cast(pl.Int64)),
                "time_travel_days": settings.time_travel_days,
                "per_table": dg.MetadataValue.md(markdown_table(summary)),
            },
        )

    @dg.job(
        name="lake_maintenance",
        description="Weekly Delta upkeep of the lake (also runnable by hand from the UI or "
        "`dg launch --job lake_maintenance`).",
    )
    def lake_maintenance() -> None:
        lake_upkeep()

    return lake_maintenance


def build_maintenance_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="lake_maintenance_weekly",
        job=job,
        cron_schedule=WEEKLY_AT_SUNDAY_0300,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The lake's upkeep every Sunday at 03:00 UTC.",
    )
