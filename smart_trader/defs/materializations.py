"""Which days the Dagster instance has materialized.

Rows alone cannot tell a day materialized with zero rows from a day never materialized, so the
rules that depend on "was P materialized" ask the instance.
"""

import datetime as dt
from collections.abc import Iterable

import dagster as dg


def materialized_days(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, days: Iterable[dt.date]
) -> set[dt.date]:
    done = instance.get_materialized_partitions(asset_key)
    return {day for day in days if day.isoformat() in done}


def latest_materialization_ids(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, days: Iterable[dt.date]
) -> dict[dt.date, int]:
    """The storage id of each day's latest materialization, where one exists (ids grow)."""
    ids = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, {day.isoformat() for day in days}
    )
    return {dt.date.fromisoformat(key): storage_id for key, storage_id in ids.items()}
