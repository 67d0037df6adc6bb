"""A later, separate run never computes from data its blocking checks did not vouch for.

Checks run with their own asset; before this gate, bronze corrupted by another writer after its
checks passed reached silver, gold and the webhook in later runs with every check green.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
from deltalake import write_deltalake

from smart_trader import schemas
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.monitoring.assets import HELIUS_SYNC_LOG
from smart_trader.defs.silver.assets import WALLET_PNL, WALLET_TOKEN_PNL
from smart_trader.settings import Settings
from smart_trader_tests.conftest import SMALL_MARKET_ELIGIBILITY
from smart_trader_tests.pipeline import Pipeline, build_pipeline

D = dt.date(2026, 3, 14)
SETTINGS = Settings.model_validate(
    {
        "tokens_per_day": 3,
        "holders_per_token": 8,
        "max_holder_pages": 2,
        "helius_max_addresses": 10,
        "eligibility": SMALL_MARKET_ELIGIBILITY,
    }
)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return str(failures[0].event_specific_data)


def another_writer_appends(pipeline: Pipeline, spec: schemas.TableSpec, rows: pl.DataFrame) -> None:
    """A write that is not the IO manager's: a plain Delta append, as any other tool makes."""
    table = pipeline.lake.table_uri(spec)
    write_deltalake(
        table, rows.to_arrow().cast(pl.scan_delta(table).collect_schema().to_arrow()), mode="append"
    )


def test_corrupted_bronze_stops_silver_gold_and_the_sync_in_later_runs(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path, SETTINGS)
    assert pipeline.run(D).success
    spec = schemas.TRANSACTION_HISTORY
    swap = pipeline.lake.read_day(spec, D).head(1)
    # A duplicate key with a negative amount, written after the day's checks passed.
    another_writer_appends(pipeline, spec, swap.with_columns(sold_amount=-pl.col("sold_amount")))

    named = f"bronze/transaction_history({D}): changed by Delta version"
    silver = pipeline.run_selection(D, [WALLET_TOKEN_PNL, WALLET_PNL], raise_on_error=False)
    assert named in failure_message(silver)
    gold = pipeline.run_selection(D, [SMART_WALLETS], raise_on_error=False)
    assert named in failure_message(gold)
    sync = pipeline.run_selection(D, [HELIUS_SYNC_LOG], raise_on_error=False)
    message = failure_message(sync)
    assert f"helius sync refuses gold({D})" in message and named in message
    statuses = pipeline.lake.scan(schemas.HELIUS_SYNC_LOG).sort("synced_at").collect()
    assert statuses.get_column("status").to_list()[-1] == "failed"


def test_rows_without_a_recorded_materialization_count_as_absent(tmp_path: Path) -> None:
    """wallet_pnl committed by a run killed before its event: gold does not read it."""
    pipeline = build_pipeline(tmp_path, SETTINGS)
    assert pipeline.run(D).success
    later = D + dt.timedelta(days=1)
    orphan = pipeline.lake.read_day(schemas.WALLET_PNL, D).with_columns(as_of_date=pl.lit(later))
    pipeline.lake.write_partitions(schemas.WALLET_PNL, orphan, [later])
    gold = pipeline.run_selection(later, [SMART_WALLETS], raise_on_error=False)
    assert f"silver/wallet_pnl: days ['{later}']" in failure_message(gold)
    assert "never materialized" in failure_message(gold)


def test_checks_that_never_ran_do_not_vouch(tmp_path: Path) -> None:
    """A gold day materialized without its checks is not followed by the webhook."""
    pipeline = build_pipeline(tmp_path, SETTINGS)
    assert pipeline.run(D).success
    job = pipeline.defs.resolve_implicit_global_asset_job_def()
    no_checks = job.get_subset(asset_selection={SMART_WALLETS}, asset_check_selection=set())
    assert no_checks.execute_in_process(instance=pipeline.instance, partition_key=str(D)).success
    sync = pipeline.run_selection(D, [HELIUS_SYNC_LOG], raise_on_error=False)
    assert f"gold/smart_wallets({D}): rank_order (did not run on its latest data)" in (
        failure_message(sync)
    )
