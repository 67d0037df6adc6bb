"""Monitoring's asset check: the Helius sync audit log keeps the contract's shape."""

import dagster as dg
import polars as pl

from smart_trader import quality, schemas
from smart_trader.defs.checks import check_result
from smart_trader.defs.monitoring.assets import HELIUS_SYNC_LOG
from smart_trader.resources.lake import LakeResource

SYNC_STATUSES = ("created", "updated", "unchanged", "skipped_empty", "skipped_stale", "failed")


def sync_log_check() -> dg.AssetChecksDefinition:
    """helius_sync_log is not partitioned: its check reads the whole (small) audit table."""
    name = "schema_and_statuses"
    description = (
        "Exact columns and types of the contract, no nulls where it has none; status is one of "
        f"{', '.join(SYNC_STATUSES)}."
    )

    @dg.asset_check(asset=HELIUS_SYNC_LOG, name=name, description=description, blocking=False)
    def _run(lake: LakeResource) -> dg.AssetCheckResult:
        log = lake.lake().scan(schemas.HELIUS_SYNC_LOG).collect()
        violations = quality.schema_violations(log, schemas.HELIUS_SYNC_LOG)
        if "status" in log.columns:
            unknown = log.filter(~pl.col("status").is_in(list(SYNC_STATUSES)))
            violations = pl.concat(
                [
                    violations,
                    unknown.select(
                        column=pl.lit("status"),
                        problem=pl.concat_str(pl.lit("unknown status "), pl.col("status")),
                    ),
                ]
            )
        return check_result(name, description, violations, False, HELIUS_SYNC_LOG)

    return _run
