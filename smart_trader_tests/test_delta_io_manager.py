"""The Delta IO manager through real Dagster materializations, locally and on S3 (SeaweedFS)."""

import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from smart_trader.lake import Lake
from smart_trader.resources.delta_io_manager import DeltaIOManager
from smart_trader.schemas import HELIUS_SYNC_LOG, TOKEN_PRICES, WHALE_HOLDERS
from smart_trader_tests.fixtures_s3 import LakeLocation
from smart_trader_tests.test_lake import days_frame

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-02-01")
HOLDERS_KEY = dg.AssetKey(["bronze", "whale_holders"])
# Dagster 1.13 calls backfill_policy "beta"; single-run range backfills are what we test here.
warnings.filterwarnings("ignore", "Parameter `backfill_policy`", dg.BetaWarning)
pytestmark = pytest.mark.filterwarnings("ignore:Parameter `backfill_policy`")
# single_run: a partition key range materializes in one run (a single-run backfill).
PARTITIONED: dict[str, Any] = {
    "partitions_def": DAILY,
    "backfill_policy": dg.BackfillPolicy.single_run(),
}
FETCHED = datetime(2026, 1, 6, tzinfo=UTC)


def d(day: int) -> date:
    return date(2026, 1, day)


class HoldersConfig(dg.Config):
    rows: int = 3
    token: str = "tok"
    # "string" / "naive_datetime": a wrongly typed partition column; "all_days": rows of
    # other days too (what turned a partition overwrite into a whole-table overwrite).
    corrupt: str = ""


@dg.asset(key=HOLDERS_KEY, **PARTITIONED)
def whale_holders(context: dg.AssetExecutionContext, config: HoldersConfig) -> pl.DataFrame:
    window = context.partition_time_window
    days = [
        window.start.date() + timedelta(days=i) for i in range((window.end - window.start).days)
    ]
    if config.corrupt == "all_days":
        days = [d(i) for i in range(1, 8)]
    frame = days_frame(days, config.rows, config.token) if config.rows else WHALE_HOLDERS.empty()
    if config.corrupt == "string":
        return frame.with_columns(pl.col("snapshot_date").cast(pl.String))
    if config.corrupt == "naive_datetime":
        return frame.with_columns(pl.col("snapshot_date").cast(pl.Datetime("us")))
    return frame


def _window_summary(day: date, holders: pl.DataFrame) -> pl.DataFrame:
    """One token_prices row per upstream day read: token 'day:<D>', price = that day's rows."""
    counts = holders.group_by("snapshot_date").len().sort("snapshot_date")
    return pl.DataFrame(
        {
            "snapshot_date": [day] * counts.height,
            "token_address": [f"day:{x}" for x in counts.get_column("snapshot_date")],
            "price_usd": counts.get_column("len").cast(pl.Float64),
            "fetched_at": [FETCHED] * counts.height,
        },
        schema=TOKEN_PRICES.schema,
    )


def window_reader(allow_missing: bool = False, lazy: bool = True) -> dg.AssetsDefinition:
    """bronze/token_prices reading whale_holders [D-2, D] as LazyFrame or DataFrame."""
    holders_in = dg.AssetIn(
        key=HOLDERS_KEY,
        partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2),
        metadata={"allow_missing_partitions": True} if allow_missing else None,
    )
    if lazy:

        @dg.asset(key=["bronze", "token_prices"], ins={"holders": holders_in}, **PARTITIONED)
        def lazy_prices(context: dg.AssetExecutionContext, holders: pl.LazyFrame) -> pl.DataFrame:
            assert isinstance(holders, pl.LazyFrame)
            return _window_summary(context.partition_time_window.start.date(), holders.collect())

        return lazy_prices

    @dg.asset(key=["bronze", "token_prices"], ins={"holders": holders_in}, **PARTITIONED)
    def eager_prices(context: dg.AssetExecutionContext, holders: pl.DataFrame) -> pl.DataFrame:
        assert isinstance(holders, pl.DataFrame)
        return _window_summary(context.partition_time_window.start.date(), holders)

    return eager_prices


class Harness:
    """One Dagster instance and one lake, so materializations see each other."""

    def __init__(self, location: LakeLocation) -> None:
        self.instance = dg.DagsterInstance.ephemeral()
        self.io_manager = DeltaIOManager(
            lake_uri=location.uri, storage_options=location.storage_options
        )
        self.lake = Lake(location.uri, location.storage_options)

    def run(
        self,
        assets: Sequence[dg.AssetsDefinition],
        days: tuple[int, int] | int,
        holders: Mapping[str, Any] | None = None,
        selection: Sequence[dg.AssetsDefinition] | None = None,
    ) -> dg.ExecuteInProcessResult:
        if isinstance(days, int):
            partition: dict[str, Any] = {"partition_key": d(days).isoformat()}
        else:  # a single-run backfill of a partition key range
            partition = {
                "tags": {
                    "dagster/asset_partition_range_start": d(days[0]).isoformat(),
                    "dagster/asset_partition_range_end": d(days[1]).isoformat(),
                }
            }
        return dg.materialize(
            assets,
            selection=selection,
            instance=self.instance,
            resources={"io_manager": self.io_manager},
            run_config={"ops": {"bronze__whale_holders": {"config": dict(holders or {})}}}
            if holders is not None
            else None,
            raise_on_error=False,
            **partition,
        )

    def holders_by_day(self) -> dict[date, tuple[int, set[str]]]:
        rows = self.lake.scan(WHALE_HOLDERS).collect()
        return {
            day: (group.height, set(group.get_column("token_address")))
            for (day,), group in rows.group_by("snapshot_date")
        }

    def prices(self, day: int) -> dict[str, float]:
        rows = self.lake.read_day(TOKEN_PRICES, d(day))
        return dict(zip(rows["token_address"], rows["price_usd"], strict=True))


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    error = failures[0].step_failure_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def test_backfill_range_then_rematerialize_one_day(lake_location: LakeLocation) -> None:
    h = Harness(lake_location)
    backfill = h.run([whale_holders], (1, 5))
    assert backfill.success
    assert h.holders_by_day() == {d(i): (3, {"tok"}) for i in range(1, 6)}
    events = backfill.get_asset_materialization_events()
    assert sorted(str(e.partition) for e in events) == [d(i).isoformat() for i in range(1, 6)]
    meta = events[0].materialization.metadata
    assert meta["days_written"].value == [d(i).isoformat() for i in range(1, 6)]
    assert meta["delta_version"].value == 1  # version 0 created the table
    assert meta["rows_written"].value == 15
    assert meta["dagster/uri"].value == h.lake.table_uri(WHALE_HOLDERS)

    again = h.run([whale_holders], 3, holders={"rows": 2, "token": "new"})
    assert again.success
    meta = again.get_asset_materialization_events()[0].materialization.metadata
    assert (meta["delta_version"].value, meta["dagster/partition_row_count"].value) == (2, 2)
    expected = {d(i): (3, {"tok"}) for i in range(1, 6)} | {d(3): (2, {"new"})}
    assert h.holders_by_day() == expected


def test_window_read_returns_every_day_or_fails_naming_missing(
    lake_location: LakeLocation,
) -> None:
    h = Harness(lake_location)
    assert h.run([whale_holders], (1, 3), holders={"rows": 2}).success
    assert h.run([whale_holders], 5).success
    prices = window_reader()

    assert h.run([whale_holders, prices], 3, selection=[prices]).success
    assert h.prices(3) == {f"day:{d(i)}": 2.0 for i in range(1, 4)}  # every day, no other

    failed = h.run([whale_holders, prices], 5, selection=[prices])
    assert "days ['2026-01-04'] of the requested 3 were never materialized" in failure_message(
        failed
    )
    assert h.prices(5) == {}

    allowed = window_reader(allow_missing=True, lazy=False)
    assert h.run([whale_holders, allowed], 5, selection=[allowed]).success
    assert h.prices(5) == {f"day:{d(3)}": 2.0, f"day:{d(5)}": 3.0}


def test_zero_row_output_empties_its_partition_and_counts_as_materialized(tmp_path: Path) -> None:
    h = Harness(LakeLocation(str(tmp_path)))
    assert h.run([whale_holders], (1, 3)).success
    assert h.run([whale_holders], 2, holders={"rows": 0}).success
    assert h.holders_by_day() == {d(1): (3, {"tok"}), d(3): (3, {"tok"})}
    prices = window_reader()
    assert h.run([whale_holders, prices], 3, selection=[prices]).success
    assert h.prices(3) == {f"day:{d(1)}": 3.0, f"day:{d(3)}": 3.0}


def test_never_materialized_day_without_rows_is_missing_even_in_one_run(tmp_path: Path) -> None:
    # Upstream and downstream in one run: the window's earlier days were never materialized.
    h = Harness(LakeLocation(str(tmp_path)))
    failed = h.run([whale_holders, window_reader()], 3)
    assert "days ['2026-01-01', '2026-01-02'] of the requested 3" in failure_message(failed)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        ("string", "column snapshot_date is String, contract says Date"),
        ("naive_datetime", "column snapshot_date is Datetime(time_unit='us', time_zone=None)"),
        ("all_days", "frame has rows for days ['2026-01-01', '2026-01-02', '2026-01-04'"),
    ],
)
def test_bad_output_fails_loudly_and_leaves_the_table(
    tmp_path: Path, corrupt: str, message: str
) -> None:
    h = Harness(LakeLocation(str(tmp_path)))
    assert h.run([whale_holders], (1, 5)).success
    failed = h.run([whale_holders], 3, holders={"token": "bad", "corrupt": corrupt})
    assert message in failure_message(failed)
    assert h.lake.version(WHALE_HOLDERS) == 1
    assert h.holders_by_day() == {d(i): (3, {"tok"}) for i in range(1, 6)}


def test_rerun_of_a_partition_same_rows_new_version(tmp_path: Path) -> None:
    h = Harness(LakeLocation(str(tmp_path)))
    assert h.run([whale_holders], (1, 2)).success
    before = h.lake.scan(WHALE_HOLDERS).collect().sort("snapshot_date", "wallet_address")
    versions = []
    for _ in range(2):
        result = h.run([whale_holders], 2)
        assert result.success
        versions.append(result.get_asset_materialization_events()[0].materialization.metadata)
    after = h.lake.scan(WHALE_HOLDERS).collect().sort("snapshot_date", "wallet_address")
    assert [m["delta_version"].value for m in versions] == [2, 3]
    assert after.equals(before)


def test_unpartitioned_append_only_table(tmp_path: Path) -> None:
    @dg.asset(key=["monitoring", "helius_sync_log"])
    def helius_sync_log() -> pl.DataFrame:
        return pl.DataFrame(
            {
                "synced_at": [FETCHED],
                "as_of_date": [d(1)],
                "webhook_id": ["wh"],
                "status": ["ok"],
                "address_count": [1],
                "added_count": [1],
                "removed_count": [0],
                "addresses_sha256": ["x"],
            },
            schema=HELIUS_SYNC_LOG.schema,
        )

    @dg.asset
    def sync_report(helius_sync_log: pl.DataFrame) -> None:
        assert helius_sync_log.height == 2

    h = Harness(LakeLocation(str(tmp_path)))
    resources = {"io_manager": h.io_manager}
    assert dg.materialize([helius_sync_log], instance=h.instance, resources=resources).success
    assert dg.materialize([helius_sync_log], instance=h.instance, resources=resources).success
    assert h.lake.version(HELIUS_SYNC_LOG) == 2
    report = dg.materialize(
        [helius_sync_log, sync_report],
        selection=[sync_report],
        instance=h.instance,
        resources={"io_manager": h.io_manager},
    )
    assert report.success


def test_unknown_table_fails_naming_it(tmp_path: Path) -> None:
    @dg.asset(key=["bronze", "nope"])
    def nope() -> pl.DataFrame:
        return pl.DataFrame({"x": [1]})

    h = Harness(LakeLocation(str(tmp_path)))
    result = dg.materialize(
        [nope], instance=h.instance, resources={"io_manager": h.io_manager}, raise_on_error=False
    )
    assert "asset bronze/nope is not a lake table" in failure_message(result)
