"""The live_swaps sensor: new live swaps refresh the watched wallets' intraday positions."""

import datetime as dt

import dagster as dg

from smart_trader import schemas
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.live.assets import GOLD_AGE_DAYS, LIVE_SWAPS, WATCHED_POSITIONS
from smart_trader.defs.partitions import day_of
from smart_trader.resources.lake import LakeResource

SENSOR_NAME = "live_swaps_sensor"


LIVE_POSITIONS_JOB = dg.define_asset_job(
    "live_positions",
    selection=dg.AssetSelection.assets(WATCHED_POSITIONS),
    description="Refresh live/watched_positions for one day (run by the live_swaps sensor).",
)


def live_days(gold_days: set[dt.date], live_days_present: set[dt.date]) -> list[dt.date]:
    """Days with live swaps after the newest gold day, within the 3 days the sync follows it."""
    if not gold_days:
        return []
    newest = max(gold_days)
    return sorted(d for d in live_days_present if 0 < (d - newest).days <= GOLD_AGE_DAYS)


def live_swaps_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        job=LIVE_POSITIONS_JOB,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Watches bronze/live_swaps, which the webhook receiver appends to. On a new Delta "
            "version (the cursor) it reports the live_swaps days it touched and refreshes "
            "live/watched_positions for each day after the newest gold day (run key: the "
            "version and the day, so a tick repeated after a crash starts nothing twice)."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, lake: LakeResource
    ) -> dg.SensorResult | dg.SkipReason:
        store = lake.lake()
        version = store.version(schemas.LIVE_SWAPS)
        if version is None:
            return dg.SkipReason(
                "bronze/live_swaps does not exist yet: the receiver has written nothing"
            )
        seen = int(context.cursor) if context.cursor else -1
        if version <= seen:
            return dg.SkipReason(f"no new live swaps since Delta version {seen}")
        gold_days = {day_of(k) for k in context.instance.get_materialized_partitions(SMART_WALLETS)}
        newest = max(gold_days, default=None)
        candidates = (
            []
            if newest is None
            else [newest + dt.timedelta(days=i) for i in range(1, GOLD_AGE_DAYS + 1)]
        )
        days = live_days(gold_days, store.days_present(schemas.LIVE_SWAPS, candidates))
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"live_swaps@{version}:{d.isoformat()}",
                    partition_key=d.isoformat(),
                    tags={"smart_trader/live_swaps_version": str(version)},
                )
                for d in days
            ],
            asset_events=[
                dg.AssetMaterialization(
                    LIVE_SWAPS,
                    partition=d.isoformat(),
                    metadata={
                        "delta_version": version,
                        "dagster/uri": store.table_uri(schemas.LIVE_SWAPS),
                    },
                )
                for d in days
            ],
            cursor=str(version),
        )

    return _sensor
