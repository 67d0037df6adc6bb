"""Real-time monitoring end to end on the sandbox: the sandbox delivers the watched wallets' swaps
to the receiver on loopback; live_swaps equal transaction_history; the sensor refreshes the
watched wallets' positions."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
import polars as pl
import pytest

from smart_trader import schemas
from smart_trader.days import day_start
from smart_trader.defs.live.assets import WATCHED_POSITIONS
from smart_trader.defs.live.sensors import LIVE_POSITIONS_JOB, SENSOR_NAME
from smart_trader.lake import Lake
from smart_trader.receiver.parse import WEBHOOK_TRANSACTION_TYPES
from smart_trader.receiver.reconcile import MATCH, reconcile
from smart_trader.resources.lake import LakeResource
from smart_trader.sandbox import shared_app
from smart_trader.sandbox.helius import WebhookStore
from smart_trader.sandbox.webhooks import deliver_swaps
from smart_trader.settings import EligibilityThresholds, Settings
from smart_trader_tests.pipeline import SEED, Pipeline, build_pipeline
from smart_trader_tests.receiver_server import SECRET, receiver_thread, wait_flushed

D = dt.date(2026, 3, 14)
D1 = D + dt.timedelta(days=1)


def unix(t: dt.datetime) -> int:
    return int(t.timestamp())


@dataclass
class Live:
    pipeline: Pipeline
    lake_uri: str
    watched: list[str]


def deliver(store: WebhookStore, start: dt.datetime, end: dt.datetime) -> Any:
    """The sandbox's swaps with block time in [start, end) to every registered webhook."""
    market = shared_app(SEED, None).state.market

    async def run() -> Any:
        async with httpx.AsyncClient(timeout=30.0) as client:
            return await deliver_swaps(market, store, unix(start) - 1, unix(end) - 1, client, 0.0)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    # Loose gold rules: this small market slice must give gold wallets to watch.
    loose = EligibilityThresholds(
        min_trade_count=1,
        min_tokens_realized=1,
        min_realized_pnl_usd=-1e12,
        min_roi_pct=-1e9,
        min_win_rate_pct=0,
        min_pnl_without_best_token_usd=-1e12,
        min_total_pnl_usd=-1e12,
        max_trades_per_day=1_000_000,
        min_avg_hold_seconds=0,
        max_unpriced_trade_share=1,
        max_unmatched_sell_share=1,
        max_skill_p_value=1,
        max_open_cost_share=1,
    )
    settings = Settings(
        tokens_per_day=4,
        holders_per_token=12,
        max_holder_pages=3,
        helius_max_addresses=20,
        eligibility=loose,
    )
    pipeline = build_pipeline(root, settings)
    assert pipeline.run(D).success
    watched = (
        pipeline.lake.read_day(schemas.SMART_WALLETS, D)
        .sort("rank")
        .head(settings.helius_max_addresses)
        .get_column("wallet_address")
        .to_list()
    )
    assert watched, "gold(D) is empty: nothing to watch"
    lake_uri = str(root / "lake")
    with receiver_thread(root / "spool", Lake(lake_uri)) as url:
        # The webhook as the sync registers it: the receiver's URL and the shared secret.
        store = WebhookStore(str(root / "delivery_webhooks.json"))
        hook: dict[str, Any] = {
            "webhookID": str(uuid.uuid4()),
            "webhookURL": f"{url}/helius",
            "transactionTypes": list(WEBHOOK_TRANSACTION_TYPES),
            "accountAddresses": watched,
            "webhookType": "enhanced",
            "authHeader": SECRET,
        }
        store.modify(lambda hooks: hooks.update({hook["webhookID"]: hook}))
        day_report = deliver(store, day_start(D), day_start(D1))
        next_report = deliver(store, day_start(D1), day_start(D1) + dt.timedelta(hours=12))
        assert day_report.failed_posts == next_report.failed_posts == 0
        assert day_report.events > 0 and next_report.events > 0
        wait_flushed(url)
        yield Live(pipeline, lake_uri, watched)


def test_live_swaps_of_a_day_equal_the_trade_history(live: Live) -> None:
    lake = live.pipeline.lake
    wallets = pl.DataFrame({"wallet_address": live.watched})
    swaps = lake.read_day(schemas.LIVE_SWAPS, D)
    history = (
        lake.read_day(schemas.TRANSACTION_HISTORY, D)
        .join(wallets, on="wallet_address", how="semi")
        .filter(pl.col("block_time") >= day_start(D))
    )
    assert set(swaps["wallet_address"]) <= set(live.watched)
    compared = reconcile(swaps, history)
    assert compared.height > 0
    assert compared.filter(pl.col("status") != MATCH).is_empty(), compared.filter(
        pl.col("status") != MATCH
    )
    # the same transactions, and per wallet too
    assert set(swaps["tx_hash"]) == set(compared["tx_hash"])
    for wallet in live.watched:
        mine = compared.filter(pl.col("wallet_address") == wallet)
        assert set(mine["tx_hash"]) == set(
            swaps.filter(pl.col("wallet_address") == wallet)["tx_hash"]
        )
    # history's multi-swap transactions (hops, split routes) are one live swap each
    assert swaps.height == swaps.select("tx_hash", "wallet_address").n_unique()
    assert history.height >= swaps.height
    events = lake.read_day(schemas.WEBHOOK_EVENTS, D)
    assert events.height == swaps.height
    assert set(events["swap_status"]) == {"swap"}


def test_the_sensor_refreshes_the_watched_positions_once_per_version(live: Live) -> None:
    defs = live.pipeline.defs
    instance = live.pipeline.instance
    sensor = defs.get_sensor_def(SENSOR_NAME)
    resources = {"lake": LakeResource(lake_uri=live.lake_uri)}
    context = dg.build_sensor_context(instance=instance, resources=resources, definitions=defs)
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    # only the day after the newest gold day (D): D's swaps are already in gold's history
    assert [r.partition_key for r in result.run_requests or []] == [D1.isoformat()]
    run_key = (result.run_requests or [])[0].run_key
    assert run_key is not None and run_key.startswith("live_swaps@")
    again = dg.build_sensor_context(
        instance=instance, resources=resources, definitions=defs, cursor=result.cursor
    )
    assert isinstance(sensor(again), dg.SkipReason)

    job = defs.resolve_job_def(LIVE_POSITIONS_JOB.name)
    run = job.execute_in_process(instance=instance, partition_key=D1.isoformat())
    assert run.success
    positions = live.pipeline.lake.read_day(schemas.LIVE_POSITIONS, D1)
    assert positions.height > 0
    assert set(positions["gold_date"]) == {D}
    assert set(positions["wallet_address"]) <= set(live.watched)
    assert set(positions["position_change"]) <= {
        "opened",
        "closed",
        "increased",
        "reduced",
        "unchanged",
    }
    materialization = run.asset_materializations_for_node(WATCHED_POSITIONS.to_python_identifier())
    metadata = materialization[0].metadata
    assert "latest_trades_of_top_wallets" in metadata
    trades = int(metadata["trades_since_gold"].value)  # type: ignore[arg-type]
    live_d1 = live.pipeline.lake.read_day(schemas.LIVE_SWAPS, D1)
    assert trades == live_d1.height > 0


def test_the_history_check_compares_a_fetched_day(live: Live) -> None:
    result = live.pipeline.run_selection(D, [WATCHED_POSITIONS])
    assert result.success
    checks = result.get_asset_check_evaluations()
    (check,) = [c for c in checks if c.check_name == "live_swaps_match_history"]
    assert check.passed and check.metadata["compared"].value is True
    assert int(check.metadata["gap_filled_from_history"].value) == 0  # type: ignore[arg-type]
