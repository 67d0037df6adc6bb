"""The one Definitions object of the smart_trader code location."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from smart_trader.defs.automation import build_automation, daily_pipeline_job
from smart_trader.defs.bronze import bronze_defs
from smart_trader.defs.gold import gold_defs
from smart_trader.defs.live import live_defs
from smart_trader.defs.maintenance import maintenance_defs
from smart_trader.defs.monitoring import monitoring_defs
from smart_trader.defs.silver import silver_defs
from smart_trader.lake_sql import CONNECTION_CONFIG
from smart_trader.resources.birdeye import birdeye_from_env
from smart_trader.resources.delta_io_manager import DeltaIOManager
from smart_trader.resources.helius import helius_from_env
from smart_trader.resources.lake import LakeResource
from smart_trader.sandbox.environment import check_sandbox_environment
from smart_trader.settings import Settings, SettingsError, load_settings

SANDBOX_WEBHOOK_URL = "https://hooks.sandbox.smart-trader.invalid/helius"
SANDBOX_STATE_DIR = "data/sandbox"
# For the assets written in SQL (gold/wallet_history): an in-memory DuckDB on which each asset
# registers the lake tables it reads; present whatever resources a caller passes.
DUCKDB = DuckDBResource(database=":memory:", connection_config=CONNECTION_CONFIG)


def default_resources() -> dict[str, Any]:
    """Keys, lake and sandbox choice come from the environment (README, Configuration)."""
    webhook_url = os.environ.get("HELIUS_WEBHOOK_URL")
    if os.environ.get("HELIUS_API_KEY") and not webhook_url:
        raise SettingsError(
            "HELIUS_WEBHOOK_URL is required with HELIUS_API_KEY: the URL Helius posts to"
        )
    # The in-process sandbox keeps its webhooks in a file, so that separate runs see one webhook.
    state_dir = Path(os.environ.get("SMART_TRADER_SANDBOX_STATE_DIR", SANDBOX_STATE_DIR))
    helius: dict[str, Any] = {
        "webhook_url": webhook_url or SANDBOX_WEBHOOK_URL,
        "sandbox_state_path": str(state_dir.resolve() / "helius_webhooks.json"),
    }
    birdeye: dict[str, Any] = {}
    # A sandbox served over HTTP (docker-compose): both services at its URL, no real keys.
    if sandbox_url := os.environ.get("SMART_TRADER_SANDBOX_URL"):
        birdeye = {"base_url": sandbox_url, "sandbox_server": True}
        helius |= {"base_url": sandbox_url, "api_key": "sandbox"}
    # The secret Helius echoes as Authorization; the receiver checks it (an env reference,
    # never a value in the resource config the UI shows).
    webhook_auth = (
        {"auth_header": dg.EnvVar("HELIUS_WEBHOOK_AUTH")}
        if os.environ.get("HELIUS_WEBHOOK_AUTH")
        else {}
    )
    return {
        "io_manager": DeltaIOManager(),
        "lake": LakeResource(),
        "birdeye": birdeye_from_env(**birdeye),
        "helius": helius_from_env(**helius, **webhook_auth),
    }


def build_definitions(
    settings: Settings, resources: Mapping[str, Any] | None = None
) -> dg.Definitions:
    # Partitioned asset checks and allow_nonexistent_upstream_partitions are Dagster preview/beta
    # features we rely on knowingly; their warnings would greet every CLI command.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _definitions(settings, resources)


def _definitions(settings: Settings, resources: Mapping[str, Any] | None) -> dg.Definitions:
    wiring = dg.Definitions(
        sensors=build_automation(settings),
        jobs=[daily_pipeline_job()],
        # A run's steps are many small checks around a few fetches; one process per step would
        # spend more on interpreter start-up than on the work. Runs stay isolated from each
        # other (the run launcher gives each its own process, container or pod).
        executor=dg.in_process_executor,
        resources={
            "duckdb": DUCKDB,
            **(dict(resources) if resources is not None else default_resources()),
        },
    )
    return dg.Definitions.merge(
        bronze_defs(settings),
        silver_defs(settings),
        gold_defs(settings),
        monitoring_defs(settings),
        live_defs(settings),
        maintenance_defs(settings),
        wiring,
    )


check_sandbox_environment(os.environ, SANDBOX_STATE_DIR)
defs = build_definitions(load_settings())
