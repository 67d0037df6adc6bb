"""What the wire did reaches each bronze asset's materialization metadata (issue 11, finding 6):
requests, retries, 429s, 5xx and transport errors per endpoint, equal to what the sandbox
served."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from smart_trader.defs.bronze.assets import (
    ENDPOINTS,
    TOKEN_METRICS,
    TOKEN_PRICES,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
)
from smart_trader.sandbox import shared_app
from smart_trader.settings import Settings
from smart_trader_tests.pipeline import SEED, build_pipeline

D = dt.date(2026, 3, 14)
SETTINGS = Settings(tokens_per_day=3, holders_per_token=6, max_holder_pages=1)
# At most 3 faulty attempts per request (the sandbox's default), within the client's 6 retries.
FAULTS = "server_error=0.3,rate_limit=0.3,retry_after_seconds=0,fault_seed=23"
FETCHES = [TOKEN_METRICS, WHALE_HOLDERS, TRANSACTION_HISTORY, TOKEN_PRICES]


def metadata_of(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> dict[str, object]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[D.isoformat()]), limit=1
    ).records
    materialization = records[0].asset_materialization
    assert materialization is not None
    return {key: value.value for key, value in materialization.metadata.items()}


def test_http_fault_counts_per_endpoint_reach_the_metadata(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path, SETTINGS, faults=FAULTS)
    served = shared_app(SEED, FAULTS).state.request_log  # the app in_process(SEED, FAULTS) mounts
    already = len(served)
    assert pipeline.run_selection(D, FETCHES).success
    log = served[already:]
    for asset_key in FETCHES:
        (endpoint,) = ENDPOINTS[asset_key]
        statuses = [entry.status for entry in log if entry.path == endpoint]
        metadata = metadata_of(pipeline.instance, asset_key)
        faults = sum(s == 429 or s >= 500 for s in statuses)
        assert metadata[f"{endpoint} http_requests"] == len(statuses) > 0, endpoint
        assert metadata[f"{endpoint} http_429"] == statuses.count(429), endpoint
        assert metadata[f"{endpoint} http_5xx"] == sum(s >= 500 for s in statuses), endpoint
        assert metadata[f"{endpoint} http_retries"] == faults, endpoint  # each one retried
        assert metadata[f"{endpoint} http_transport_errors"] == 0, endpoint
        assert metadata["http_retries"] == faults  # one endpoint per asset: total = endpoint
    assert sum(s == 429 for s in (e.status for e in log)) > 0
    assert sum(s >= 500 for s in (e.status for e in log)) > 0
