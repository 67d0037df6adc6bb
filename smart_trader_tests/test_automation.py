"""Automated runs: the daily cron starts bronze, each layer follows its inputs, and a failed
blocking check stops the flow until the data is fixed (Dagster's own condition evaluator)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.defs.automation import INTRADAY_SENSOR, daily_assets
from smart_trader.defs.bronze.assets import (
    REJECTED_RECORDS,
    TOKEN_METRICS,
    TOKEN_PRICES,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
)
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.gold.history import WALLET_HISTORY
from smart_trader.defs.monitoring.assets import HELIUS_SYNC_LOG
from smart_trader.defs.partitions import DAILY
from smart_trader.defs.silver.assets import WALLET_PNL, WALLET_TOKEN_PNL
from smart_trader.settings import Settings
from smart_trader_tests.pipeline import Pipeline, build_pipeline

D = dt.date(2026, 3, 14)


class Ticks:
    """Successive evaluations of the automation conditions, as the daemon's sensor makes them."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.cursor: dg.AssetDaemonCursor | None = None

    def requested(self, at: dt.datetime) -> set[tuple[str, str | None]]:
        result = dg.evaluate_automation_conditions(
            defs=self.pipeline.defs,
            instance=self.pipeline.instance,
            evaluation_time=at,
            cursor=self.cursor,
        )
        self.cursor = result.cursor
        return {
            (key.to_user_string(), partition)
            for key in self.pipeline.defs.resolve_asset_graph().get_all_asset_keys()
            for partition in result.get_requested_partitions(key)
        }


def at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(D + dt.timedelta(days=1), dt.time(hour, minute), tzinfo=dt.UTC)


def run_checks_of(pipeline: Pipeline, key: dg.AssetKey) -> None:
    job = dg.define_asset_job("checks_only", selection=dg.AssetSelection.checks_for_assets(key))
    defs = dg.Definitions.merge(pipeline.defs, dg.Definitions(jobs=[job]))
    defs.resolve_job_def("checks_only").execute_in_process(
        instance=pipeline.instance, tags={"dagster/partition": D.isoformat()}, raise_on_error=False
    )


def test_cron_then_each_layer_and_a_failed_check_stops_the_flow(tmp_path: Path) -> None:
    pipeline = build_pipeline(
        tmp_path, Settings(tokens_per_day=2, holders_per_token=5, max_holder_pages=1)
    )
    ticks = Ticks(pipeline)
    day = D.isoformat()

    assert ticks.requested(at(0, 20)) == set()
    first = ticks.requested(at(0, 40))
    assert ("bronze/token_metrics", day) in first
    assert not {key for key, _ in first} & {"bronze/whale_holders", "silver/wallet_pnl"}
    pipeline.run_selection(D, [TOKEN_METRICS])

    assert ("bronze/whale_holders", day) in ticks.requested(at(0, 45))
    pipeline.run_selection(D, [WHALE_HOLDERS])

    assert ("bronze/transaction_history", day) in ticks.requested(at(0, 50))
    pipeline.run_selection(D, [TRANSACTION_HISTORY])

    # Corrupt the day (a duplicated swap) and re-run its checks: the unique-key check fails.
    swaps = pipeline.lake.scan(schemas.TRANSACTION_HISTORY, [D]).collect()
    pipeline.lake.write_partitions(
        schemas.TRANSACTION_HISTORY, pl.concat([swaps, swaps.head(1)]), [D]
    )
    run_checks_of(pipeline, TRANSACTION_HISTORY)
    blocked = ticks.requested(at(0, 55))
    assert ("bronze/token_prices", day) not in blocked
    assert ("silver/wallet_pnl", day) not in blocked

    # Re-materializing the day repairs it; its checks pass and the flow goes on.
    pipeline.run_selection(D, [TRANSACTION_HISTORY])
    assert ("bronze/token_prices", day) in ticks.requested(at(1, 0))
    pipeline.run_selection(D, [TOKEN_PRICES])
    assert ("silver/wallet_pnl", day) in ticks.requested(at(1, 5))


SMALL = Settings(
    tokens_per_day=2, holders_per_token=5, max_holder_pages=1, lookback_days=4, tracking_days=2
)
DAILY_KEYS = [TOKEN_METRICS, WHALE_HOLDERS, TRANSACTION_HISTORY, TOKEN_PRICES]


def days(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(count)]


def by_key(requested: set[tuple[str, str | None]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, partition in requested:
        out.setdefault(key, set()).add(str(partition))
    return out


def test_a_rematerialized_whale_holders_day_reruns_exactly_its_stale_days_in_order(
    tmp_path: Path,
) -> None:
    """whale_holders(Q) again → transaction_history [Q, Q + tracking_days − 1] first, then the
    days that read them, layer by layer; never the newest day, whose inputs are missing."""
    pipeline = build_pipeline(tmp_path, SMALL)
    d0, d1, d2, d3 = days(D - dt.timedelta(days=3), 4)
    silver_and_gold = [WALLET_TOKEN_PNL, WALLET_PNL, SMART_WALLETS, REJECTED_RECORDS]
    for day in (d0, d1, d2):
        pipeline.run_selection(day, DAILY_KEYS + silver_and_gold)
    ticks = Ticks(pipeline)
    # D+1 00:10: d3 (= D) is the newest day but not settled, and none of its inputs exist.
    now = dt.datetime.combine(d3 + dt.timedelta(days=1), dt.time(0, 10), tzinfo=dt.UTC)
    assert ticks.requested(now) == set()

    pipeline.run_selection(d1, [WHALE_HOLDERS])
    first = by_key(ticks.requested(now + dt.timedelta(minutes=1)))
    assert first == {"bronze/transaction_history": {str(d1), str(d2)}}
    for day in (d1, d2):
        pipeline.run_selection(day, [TRANSACTION_HISTORY])

    second = by_key(ticks.requested(now + dt.timedelta(minutes=2)))
    assert second == {"bronze/token_prices": {str(d1), str(d2)}}
    for day in (d1, d2):
        pipeline.run_selection(day, [TOKEN_PRICES])

    third = by_key(ticks.requested(now + dt.timedelta(minutes=3)))
    assert third == {
        "bronze/rejected_records": {str(d1), str(d2)},
        "silver/wallet_token_pnl": {str(d1), str(d2)},
        "silver/wallet_pnl": {str(d1), str(d2)},
    }
    for day in (d1, d2):
        pipeline.run_selection(day, [REJECTED_RECORDS, WALLET_TOKEN_PNL, WALLET_PNL])

    assert by_key(ticks.requested(now + dt.timedelta(minutes=4))) == {
        "gold/smart_wallets": {str(d1), str(d2)}
    }
    for day in (d1, d2):
        pipeline.run_selection(day, [SMART_WALLETS])
    # Everything is in sync again, and d3 still waits for its day to settle.
    assert ticks.requested(now + dt.timedelta(minutes=5)) == set()


def test_the_intraday_sensor_requests_a_refresh_only_past_its_threshold(tmp_path: Path) -> None:
    settings = Settings(
        tokens_per_day=4, holders_per_token=5, max_holder_pages=1, intraday_change_share=0.2
    )
    pipeline = build_pipeline(tmp_path, settings)
    newest = DAILY.get_last_partition_key()
    assert newest is not None
    day = dt.date.fromisoformat(newest)
    sensor = pipeline.defs.resolve_sensor_def(INTRADAY_SENSOR)
    resources = pipeline.defs.resources or {}

    def evaluate() -> list[dg.RunRequest]:
        with dg.build_sensor_context(
            instance=pipeline.instance,
            resources={"birdeye": resources["birdeye"], "lake": resources["lake"]},
            definitions=pipeline.defs,
        ) as context:
            return list(sensor.evaluate_tick(context).run_requests or [])

    assert evaluate() == []  # token_metrics of the newest day not materialized: nothing to compare
    pipeline.run_selection(day, [TOKEN_METRICS])
    assert evaluate() == []  # nothing changed
    tokens = pipeline.lake.scan(schemas.TOKEN_METRICS, [day]).collect()
    assert tokens.height == 4
    # One of four tokens differs: 1/8 of the two lists changed, under the 20 % threshold.
    pipeline.lake.write_partitions(schemas.TOKEN_METRICS, tokens.head(3), [day])
    assert evaluate() == []
    # Two of four: 25 %, past it; one run of the newest day, and the same one when seen again.
    pipeline.lake.write_partitions(schemas.TOKEN_METRICS, tokens.head(2), [day])
    requests = evaluate()
    assert [r.partition_key for r in requests] == [newest]
    assert evaluate()[0].run_key == requests[0].run_key


NEVER_JSON = "non_json_body=1.0,max_faulty_attempts=1000,fault_seed=5"


def test_with_a_missing_input_nothing_is_requested(tmp_path: Path) -> None:
    """The newest day is settled, its token_metrics is there, its whale_holders run failed:
    nothing downstream of the missing day is requested, not even once an older whale_holders
    day is re-materialized whose stale window reaches the newest day: only that older day."""
    pipeline = build_pipeline(tmp_path, SMALL)
    older, newest = D - dt.timedelta(days=1), D
    pipeline.run_selection(older, DAILY_KEYS)
    pipeline.run_selection(newest, [TOKEN_METRICS])
    broken = build_pipeline(tmp_path, SMALL, faults=NEVER_JSON, instance=pipeline.instance)
    assert not broken.run_selection(newest, [WHALE_HOLDERS], raise_on_error=False).success
    ticks = Ticks(pipeline)
    settled = dt.datetime.combine(newest + dt.timedelta(days=1), dt.time(1, 0), tzinfo=dt.UTC)
    assert ticks.requested(settled) == set()
    assert ticks.requested(settled + dt.timedelta(minutes=1)) == set()

    # whale_holders(older) again: transaction_history [older, newest] is the contract's stale
    # window (tracking_days 2), but newest was never fetched and its holders are missing.
    pipeline.run_selection(older, [WHALE_HOLDERS])
    assert by_key(ticks.requested(settled + dt.timedelta(minutes=2))) == {
        "bronze/transaction_history": {str(older)}
    }


def test_nothing_changed_no_request(tmp_path: Path) -> None:
    """Two days of the whole graph, the newest settled: evaluation after evaluation asks for
    nothing. One change (gold of the newest day again) asks for exactly what follows it, and
    once that ran, nothing again."""
    pipeline = build_pipeline(tmp_path, SMALL)
    keys = sorted(
        daily_assets().resolve(pipeline.defs.resolve_asset_graph()),
        key=lambda k: k.to_user_string(),
    )
    for day in days(D - dt.timedelta(days=1), 2):
        assert pipeline.run_selection(day, keys).success
    ticks = Ticks(pipeline)
    settled = dt.datetime.combine(D + dt.timedelta(days=1), dt.time(1, 0), tzinfo=dt.UTC)
    for minutes in (0, 1, 60):
        assert ticks.requested(settled + dt.timedelta(minutes=minutes)) == set(), minutes

    pipeline.run_selection(D, [SMART_WALLETS])
    # gold(D) again: the webhook sync follows it, and wallet_history(D), which reads it.
    assert ticks.requested(settled + dt.timedelta(minutes=61)) == {
        ("gold/wallet_history", D.isoformat()),
        ("monitoring/helius_sync_log", None),
    }
    pipeline.run_selection(D, [WALLET_HISTORY, HELIUS_SYNC_LOG])
    for minutes in (62, 63, 120):
        assert ticks.requested(settled + dt.timedelta(minutes=minutes)) == set(), minutes
