"""A response that is not what the API promises, every time: the request fails after its
retries, the asset fails naming the endpoint, and no partition is half-written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from smart_trader import schemas
from smart_trader.defs.bronze.assets import TOKEN_METRICS, TRANSACTION_HISTORY, WHALE_HOLDERS
from smart_trader.settings import Settings
from smart_trader_tests.pipeline import build_pipeline

D = dt.date(2026, 3, 14)
SETTINGS = Settings(tokens_per_day=2, holders_per_token=5, max_holder_pages=1)


def test_a_body_that_is_never_json_fails_the_asset_naming_the_endpoint(tmp_path: Path) -> None:
    good = build_pipeline(tmp_path / "good", SETTINGS)
    assert good.run_selection(D, [TOKEN_METRICS, WHALE_HOLDERS]).success

    # Same lake and instance; every answer is non-JSON on every attempt, so retries run out.
    broken = build_pipeline(
        tmp_path / "good",
        SETTINGS,
        faults="non_json_body=1.0,max_faulty_attempts=1000,fault_seed=5",
        instance=good.instance,
    )
    result = broken.run_selection(D, [TRANSACTION_HISTORY], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)  # type: ignore[union-attr]
    assert "/trader/txs/seek_by_time" in message, message
    assert good.lake.version(schemas.TRANSACTION_HISTORY) is None
    assert not good.instance.get_materialized_partitions(TRANSACTION_HISTORY)
