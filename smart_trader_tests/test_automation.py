"""Automated runs: the daily cron starts bronze, each layer follows its inputs, and a failed
blocking check stops the flow until the data is fixed (Dagster's own condition evaluator)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.defs.bronze.assets import (
    TOKEN_METRICS,
    TOKEN_PRICES,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
)
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
