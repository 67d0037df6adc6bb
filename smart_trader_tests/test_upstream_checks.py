"""A corrupted bronze day stops silver in a later, separate run, naming the day and the rule
(issue 11.2): a blocking check stops its own run's downstream steps, and silver asks the instance
for the latest evaluation of the blocking checks of every day it reads."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from smart_trader import schemas
from smart_trader.defs.bronze.assets import TRANSACTION_HISTORY
from smart_trader.defs.silver.assets import WALLET_PNL, WALLET_TOKEN_PNL
from smart_trader.settings import Settings
from smart_trader_tests.pipeline import build_pipeline
from smart_trader_tests.test_automation import D, run_checks_of

SETTINGS = Settings(
    tokens_per_day=2, holders_per_token=5, max_holder_pages=1, lookback_days=3, tracking_days=2
)


def test_silver_refuses_a_bronze_day_whose_blocking_check_failed(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path, SETTINGS)
    pipeline.run(D)
    silver = [WALLET_TOKEN_PNL, WALLET_PNL]
    assert pipeline.run_selection(D, silver).success  # checked bronze: silver runs again

    swaps = pipeline.lake.scan(schemas.TRANSACTION_HISTORY, [D]).collect()
    pipeline.lake.write_partitions(
        schemas.TRANSACTION_HISTORY, pl.concat([swaps, swaps.head(1)]), [D]
    )
    run_checks_of(pipeline, TRANSACTION_HISTORY)  # the unique-key check fails

    result = pipeline.run_selection(D, silver, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    message = str(failures[0].step_failure_data.error)  # type: ignore[union-attr]
    assert f"bronze/transaction_history({D}): unique_key (failed)" in message, message
