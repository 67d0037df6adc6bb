"""A failed blocking check stops the flow: silver, gold and the Helius sync do not run for the day.

Bronze for D is materialized for real on the sandbox, then transaction_history is corrupted in
the lake, then the rest of the graph is asked to run for D. The failed checks' names, counts and
example rows are in the run's events and in `dagster asset materialize`'s output.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from smart_trader import schemas
from smart_trader.definitions import build_definitions, default_resources
from smart_trader.defs.bronze.assets import (
    REJECTED_RECORDS,
    TOKEN_METRICS,
    TOKEN_PRICES,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
)
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.monitoring.assets import HELIUS_SYNC_LOG
from smart_trader.defs.silver.assets import WALLET_PNL, WALLET_TOKEN_PNL
from smart_trader.lake import Lake
from smart_trader.resources.helius import HeliusClient
from smart_trader.sandbox.transport import in_process
from smart_trader.settings import Settings, load_settings
from smart_trader_tests.conftest import SMALL_MARKET_ELIGIBILITY, SMALL_MARKET_ELIGIBILITY_ENV
from smart_trader_tests.pipeline import WEBHOOK_URL, build_pipeline, sync_config

D = dt.date(2026, 3, 14)
REPO = Path(__file__).resolve().parents[1]
BRONZE = [TOKEN_METRICS, WHALE_HOLDERS, TRANSACTION_HISTORY, TOKEN_PRICES, REJECTED_RECORDS]
DOWNSTREAM = [WALLET_TOKEN_PNL, WALLET_PNL, SMART_WALLETS, HELIUS_SYNC_LOG]
STRANGER = "Stranger1111111111111111111111111111111111"
SETTINGS = Settings.model_validate(
    {
        "tokens_per_day": 3,
        "holders_per_token": 8,
        "max_holder_pages": 2,
        "helius_max_addresses": 10,
        "eligibility": SMALL_MARKET_ELIGIBILITY,
    }
)


def failed_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        e.asset_check_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }


def test_blocking_checks_stop_silver_gold_and_the_sync_in_the_same_run(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path, SETTINGS)
    assert pipeline.run_selection(D, BRONZE).success
    spec = schemas.TRANSACTION_HISTORY
    swaps = pipeline.lake.read_day(spec, D).sort(list(spec.key))
    repeated, moved = swaps.row(0, named=True), swaps.row(5, named=True)
    corrupted = pl.concat(
        [
            swaps,
            swaps.head(1),  # a duplicate key
            swaps.slice(5, 1).with_columns(wallet_address=pl.lit(STRANGER)),  # not tracked
        ]
    )
    pipeline.lake.write_partitions(spec, corrupted, [D])

    job = dg.define_asset_job(
        "after_bronze",
        selection=dg.AssetSelection.checks_for_assets(TRANSACTION_HISTORY)
        | dg.AssetSelection.assets(*DOWNSTREAM),
    )
    defs = dg.Definitions.merge(pipeline.defs, dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def("after_bronze").execute_in_process(
        instance=pipeline.instance,
        tags={"dagster/partition": D.isoformat()},
        run_config=sync_config(D + dt.timedelta(days=1)),
        raise_on_error=False,
    )

    assert not result.success
    failed = failed_evaluations(result)
    assert set(failed) >= {
        "bronze/transaction_history:unique_key",
        "bronze/transaction_history:wallets_tracked",
    }
    duplicate = failed["bronze/transaction_history:unique_key"]
    assert duplicate.severity == dg.AssetCheckSeverity.ERROR
    assert duplicate.metadata["violations"].value == 1
    assert repeated["tx_hash"] in str(duplicate.metadata["examples"].value)
    assert f"2 rows in {D}" in str(duplicate.metadata["examples"].value)
    assert (duplicate.description or "").startswith("unique_key FAILED: 1 violation(s)")
    untracked = failed["bronze/transaction_history:wallets_tracked"]
    assert untracked.metadata["violations"].value == 1
    assert STRANGER in str(untracked.metadata["examples"].value)
    assert moved["tx_hash"]

    # the downstream steps never started, and nothing downstream exists for D
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert started == {"bronze__transaction_history_checks"}
    for key in DOWNSTREAM:
        assert not pipeline.instance.get_latest_materialization_event(key), key
    for table in (schemas.WALLET_TOKEN_PNL, schemas.WALLET_PNL, schemas.SMART_WALLETS):
        assert pipeline.lake.version(table) is None, table.path
    assert pipeline.lake.version(schemas.HELIUS_SYNC_LOG) is None
    helius = HeliusClient(
        connection=in_process(helius_state_path=str(tmp_path / "helius_webhooks.json")),
        webhook_url=WEBHOOK_URL,
    )
    assert helius.find_webhook_for_url(WEBHOOK_URL) is None
    # the run's event log names the failed checks and why
    logged = [
        e.message or "" for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert any("'unique_key'" in m and "unique_key FAILED: 1 violation(s)" in m for m in logged)
    assert any("'wallets_tracked'" in m and "FAILED: 1 violation(s)" in m for m in logged)
    failures = " ".join(
        str(e.event_specific_data)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    )
    assert re.search("blocking asset checks? failed with ERROR severity", failures)


def test_the_sync_refuses_a_gold_partition_whose_checks_failed(tmp_path: Path) -> None:
    """Gold(D) materialized, then its rank check fails: a sync run alone does not follow it."""
    pipeline = build_pipeline(tmp_path, SETTINGS)
    assert pipeline.run(D).success
    helius = HeliusClient(
        connection=in_process(helius_state_path=str(tmp_path / "helius_webhooks.json")),
        webhook_url=WEBHOOK_URL,
    )
    webhook = helius.find_webhook_for_url(WEBHOOK_URL)
    assert webhook is not None and webhook.account_addresses
    gold = pipeline.lake.read_day(schemas.SMART_WALLETS, D)
    pipeline.lake.write_partitions(
        schemas.SMART_WALLETS, gold.with_columns(rank=pl.col("rank") + 1), [D]
    )
    check = dg.AssetCheckKey(SMART_WALLETS, "rank_order")
    job = dg.define_asset_job("gold_rank", selection=dg.AssetSelection.checks(check))
    defs = dg.Definitions.merge(pipeline.defs, dg.Definitions(jobs=[job]))
    checked = defs.resolve_job_def("gold_rank").execute_in_process(
        instance=pipeline.instance, tags={"dagster/partition": D.isoformat()}, raise_on_error=False
    )
    assert not checked.success

    sync = pipeline.run_selection(D, [HELIUS_SYNC_LOG], raise_on_error=False)
    assert not sync.success
    failures = [e for e in sync.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "helius sync refuses gold(2026-03-14)" in str(failures[0].event_specific_data)
    assert "rank_order" in str(failures[0].event_specific_data)
    log = pipeline.lake.scan(schemas.HELIUS_SYNC_LOG).sort("synced_at").collect()
    assert log.get_column("status").to_list()[-1] == "failed"
    after = helius.find_webhook_for_url(WEBHOOK_URL)
    assert after is not None and after.account_addresses == webhook.account_addresses


def test_the_sync_without_any_gold_partition_fails_and_logs_nothing(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path, SETTINGS)
    sync = pipeline.run_selection(D, [HELIUS_SYNC_LOG], raise_on_error=False)
    assert not sync.success
    failures = [e for e in sync.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "no gold/smart_wallets partition is materialized yet" in str(
        failures[0].event_specific_data
    )
    assert pipeline.lake.version(schemas.HELIUS_SYNC_LOG) is None


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The code location as the CLI loads it (env settings), on a persistent instance."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    variables = {
        "DAGSTER_HOME": str(home),
        "SMART_TRADER_LAKE_URI": str(tmp_path / "lake"),
        "SMART_TRADER_TOKENS_PER_DAY": "3",
        "SMART_TRADER_HOLDERS_PER_TOKEN": "8",
        "SMART_TRADER_MAX_HOLDER_PAGES": "2",
        "SMART_TRADER_ELIGIBILITY": SMALL_MARKET_ELIGIBILITY_ENV,
        "SMART_TRADER_SANDBOX_STATE_DIR": str(tmp_path / "sandbox"),
    }
    for name in ("BIRDEYE_API_KEY", "HELIUS_API_KEY", "SMART_TRADER_SANDBOX_FAULTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


def test_cli_materialize_of_a_key_also_in_an_earlier_day_runs_everything_below(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """The contract's out-of-order rule through the CLI: a transaction_history key of D that
    is also in D-1 is one swap, not a broken key (it used to fail unique_key table-wide), so
    `dagster asset materialize` of transaction_history and everything below it for D passes
    its checks and materializes gold."""
    instance = dg.DagsterInstance.get()
    defs = build_definitions(load_settings(), default_resources())
    bronze = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=D.isoformat(), asset_selection=BRONZE
    )
    assert bronze.success
    lake = Lake(cli_env["SMART_TRADER_LAKE_URI"])
    spec = schemas.TRANSACTION_HISTORY
    swaps = lake.read_day(spec, D).sort(list(spec.key))
    earlier = D - dt.timedelta(days=1)
    lake.write_partitions(spec, swaps.head(1).with_columns(ingest_date=pl.lit(earlier)), [earlier])

    dagster = Path(sys.executable).parent / "dagster"
    out = subprocess.run(
        [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "smart_trader.definitions",
            "--select",
            "bronze/transaction_history*",
            "--partition",
            D.isoformat(),
        ],
        cwd=REPO,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = out.stdout + out.stderr
    assert out.returncode == 0, output[-3000:]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(TRANSACTION_HISTORY, "unique_key")]
    )
    (record,) = latest.values()
    assert record.evaluation is not None and record.evaluation.passed
    assert instance.get_latest_materialization_event(SMART_WALLETS) is not None
