"""The whole graph on a hostile sandbox: malformed and repeated records, 5xx, 429, cut and
non-JSON bodies. The run completes; every injected bad record is in bronze/rejected_records and
accounted for in the metadata; silver, gold and the webhook come from the good records only.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from smart_trader import schemas
from smart_trader.defs.bronze.assets import COUNT_TERMS, ENDPOINTS, count_metadata_key
from smart_trader.gold_rules import rank_smart_wallets
from smart_trader.helius_sync import addresses_sha256
from smart_trader.pnl.silver import compute_silver
from smart_trader.pnl.window import window_swaps
from smart_trader.resources.helius import HeliusClient
from smart_trader.sandbox import shared_app
from smart_trader.sandbox.transport import in_process
from smart_trader.settings import Settings
from smart_trader_tests.conftest import SMALL_MARKET_ELIGIBILITY
from smart_trader_tests.pipeline import SEED, WEBHOOK_URL, Pipeline, build_pipeline

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
# Retry-After 0: the client honours it, and the test must stay fast (backoff is 0 too).
FAULTS = (
    "malformed_records=0.08,duplicate_rows=0.6,server_error=0.05,rate_limit=0.05,"
    "truncated_body=0.05,non_json_body=0.05,retry_after_seconds=0,fault_seed=2"
)
TRANSIENT_STATUSES = {429, 500}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pipeline, dg.ExecuteInProcessResult]:
    pipeline = build_pipeline(tmp_path_factory.mktemp("hostile"), SETTINGS, faults=FAULTS)
    return pipeline, pipeline.run(D, raise_on_error=False)


def test_the_run_completes_through_transient_faults_with_every_check_passing(
    hostile: tuple[Pipeline, dg.ExecuteInProcessResult],
) -> None:
    _, result = hostile
    assert result.success
    failed = [
        e.asset_check_key.to_user_string()
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    assert failed == []
    statuses = [e.status for e in shared_app(SEED, FAULTS).state.request_log]
    # the faults were really there: the client retried through them
    assert set(statuses) >= TRANSIENT_STATUSES


def test_every_injected_bad_record_is_rejected_and_accounted_for(
    hostile: tuple[Pipeline, dg.ExecuteInProcessResult],
) -> None:
    pipeline, _ = hostile
    injected = shared_app(SEED, FAULTS).state.injected
    rejected = pipeline.lake.read_day(schemas.REJECTED_RECORDS, D)
    total_duplicates = 0
    for asset_key, endpoints in ENDPOINTS.items():
        event = pipeline.instance.get_latest_materialization_event(asset_key)
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        for endpoint in endpoints:
            terms = {t: int(metadata[count_metadata_key(endpoint, t)].value) for t in COUNT_TERMS}  # type: ignore[arg-type]
            assert terms["received"] == sum(terms[t] for t in COUNT_TERMS[1:]), (endpoint, terms)
            rows = rejected.filter(pl.col("endpoint") == endpoint)
            assert rows.height == terms["rejected"], endpoint
            # a bad record delivered twice (on a repeated row) is rejected twice, identically
            distinct = rows.get_column("raw_record").n_unique()
            assert distinct == injected.bad_records(endpoint) > 0, endpoint
            repeated = injected.counts()[endpoint].get("duplicate", 0)
            assert terms["duplicate"] + (rows.height - distinct) == repeated, endpoint
            total_duplicates += repeated
            assert rows.get_column("reason").str.len_chars().min() > 0  # type: ignore[operator]
    assert total_duplicates > 0, "the duplicate_rows knob injected nothing: raise its rate"


def test_no_rejected_record_reaches_the_bronze_tables(
    hostile: tuple[Pipeline, dg.ExecuteInProcessResult],
) -> None:
    pipeline, _ = hostile
    rejected = pipeline.lake.read_day(schemas.REJECTED_RECORDS, D)

    def raw(endpoint: str) -> list[dict[str, object]]:
        return [
            json.loads(r)
            for r in rejected.filter(pl.col("endpoint") == endpoint).get_column("raw_record")
        ]

    swaps = pipeline.lake.read_day(schemas.TRANSACTION_HISTORY, D)
    stored = set(swaps.select("tx_hash", "ins_index", "inner_ins_index").iter_rows())
    bad_swaps = [
        (r["tx_hash"], r["ins_index"], r.get("inner_ins_index", -1))
        for r in raw("/trader/txs/seek_by_time")
        if "tx_hash" in r
    ]
    assert bad_swaps and not stored & set(bad_swaps)
    tokens = set(pipeline.lake.read_day(schemas.TOKEN_METRICS, D).get_column("token_address"))
    bad_tokens = {r["address"] for r in raw("/defi/v3/token/list") if "address" in r}
    assert bad_tokens and not tokens & bad_tokens
    priced = set(pipeline.lake.read_day(schemas.TOKEN_PRICES, D).get_column("token_address"))
    bad_prices = {address for r in raw("/defi/multi_price") for address in r}
    assert bad_prices and not priced & bad_prices


def test_silver_gold_and_the_webhook_come_from_the_stored_good_records(
    hostile: tuple[Pipeline, dg.ExecuteInProcessResult], tmp_path_factory: pytest.TempPathFactory
) -> None:
    pipeline, _ = hostile
    lake = pipeline.lake
    holders = lake.scan(schemas.WHALE_HOLDERS).collect()
    wallet_token_pnl, wallet_pnl = compute_silver(
        window_swaps(lake.scan(schemas.TRANSACTION_HISTORY), holders, D, SETTINGS),
        as_of_date=D,
        quote_assets=SETTINGS.quote_asset_set,
        non_trade_sources=SETTINGS.non_trade_source_set,
        metric_prices=lake.read_day(schemas.TOKEN_METRICS, D).select("token_address", "price_usd"),
        api_prices=lake.read_day(schemas.TOKEN_PRICES, D).select("token_address", "price_usd"),
    )
    for spec, expected in (
        (schemas.WALLET_TOKEN_PNL, wallet_token_pnl),
        (schemas.WALLET_PNL, wallet_pnl),
    ):
        stored = lake.read_day(spec, D).sort(list(spec.key))
        assert stored.equals(expected.sort(list(spec.key))), spec.path
    gold = lake.read_day(schemas.SMART_WALLETS, D).sort("rank")
    assert gold.height > 0
    assert gold.equals(
        rank_smart_wallets(wallet_pnl, as_of_date=D, thresholds=SETTINGS.eligibility)
    )

    top = gold.head(SETTINGS.helius_max_addresses).get_column("wallet_address").to_list()
    log = lake.scan(schemas.HELIUS_SYNC_LOG).collect()
    assert log.select("as_of_date", "status", "address_count").rows() == [(D, "created", len(top))]
    assert log.get_column("addresses_sha256")[0] == addresses_sha256(top)
    state = Path(lake.root).parent / "helius_webhooks.json"
    webhook = HeliusClient(
        connection=in_process(helius_state_path=str(state)), webhook_url=WEBHOOK_URL
    ).find_webhook_for_url(WEBHOOK_URL)
    assert webhook is not None and sorted(webhook.account_addresses) == sorted(top)
