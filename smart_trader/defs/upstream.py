"""Before an asset computes: the upstream days it reads passed their blocking checks.

A blocking check stops downstream steps of its own run only. A later, separate run (a manual
silver → gold run after bronze was corrupted and its checks failed) would read the bad day, so
each asset asks the instance for the latest evaluation of every blocking check of every
materialized upstream day it reads, and fails naming the day and the rule unless each passed.
Days never materialized are absent, not unchecked (a window reaches before the first day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from smart_trader.defs.materializations import materialized_days


def unpassed_checks(
    instance: dg.DagsterInstance,
    reads: Mapping[dg.AssetKey, Iterable[dt.date]],
    blocking: Iterable[dg.AssetCheckKey],
) -> list[str]:
    """`asset(day): check (status)` for each materialized day read whose latest evaluation of a
    blocking check of its asset did not pass (failed, or never ran)."""
    by_asset: dict[dg.AssetKey, list[dg.AssetCheckKey]] = {}
    for key in blocking:
        by_asset.setdefault(key.asset_key, []).append(key)
    problems = []
    for asset_key, days in reads.items():
        checks = by_asset.get(asset_key, [])
        if not checks:
            continue
        for day in sorted(materialized_days(instance, asset_key, days)):
            latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                checks, partition_filter=PartitionKeyFilter(key=day.isoformat())
            )
            for check in checks:
                record = latest.get(check)
                if record is None:
                    status = "never ran"
                elif record.status == AssetCheckExecutionRecordStatus.SUCCEEDED:
                    continue
                else:
                    status = record.status.value.lower()
                problems.append(f"{asset_key.to_user_string()}({day}): {check.name} ({status})")
    return problems


def require_checked_upstream(
    instance: dg.DagsterInstance,
    asset: str,
    reads: Mapping[dg.AssetKey, Iterable[dt.date]],
    blocking: Iterable[dg.AssetCheckKey],
) -> None:
    problems = unpassed_checks(instance, reads, blocking)
    if problems:
        raise dg.Failure(
            f"{asset} refuses upstream days whose blocking checks did not pass: "
            + "; ".join(problems[:10])
            + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else "")
            + ". Repair those days (re-materialize them) first."
        )
