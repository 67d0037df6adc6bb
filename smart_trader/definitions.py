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
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.resources.delta_io_manager import DeltaIOManager
from smart_trader.resources.helius import HeliusClient
from smart_trader.resources.lake import LakeResource
from smart_trader.sandbox import transport as sandbox
from smart_trader.sandbox.environment import check_sandbox_environment
from smart_trader.settings import Settings, SettingsError, load_settings

SANDBOX_WEBHOOK_URL = "https://hooks.sandbox.smart-trader.invalid/helius"
SANDBOX_STATE_DIR = "data/sandbox"
# For the assets written in SQL (gold/wallet_history): an in-memory DuckDB on which each asset
# registers the lake tables it reads; present whatever resources a caller passes.
DUCKDB = DuckDBResource(database=":memory:", connection_config=CONNECTION_CONFIG)


def default_resources() -> dict[str, Any]:
    """Keys, lake and sandbox choice come from the environment (README, Configuration). Each API
    is live exactly when its key is set, else the sandbox (served at SMART_TRADER_SANDBOX_URL, or
    in process), decided here, once: run-time resource config cannot change it."""
    webhook_url = os.environ.get("HELIUS_WEBHOOK_URL")
    if os.environ.get("HELIUS_API_KEY") and not webhook_url:
        raise SettingsError(
            "HELIUS_WEBHOOK_URL is required with HELIUS_API_KEY: the URL Helius posts to"
        )
    keys = [c.key_variable for c in (BirdEyeClient, HeliusClient) if os.environ.get(c.key_variable)]
    if keys and os.environ.get("SMART_TRADER_SANDBOX_URL"):
        raise SettingsError(
            f"SMART_TRADER_SANDBOX_URL (a sandbox) and {' and '.join(keys)} (live) are both "
            "set: a deployment is live or the sandbox; unset one"
        )
    # The in-process sandbox keeps its webhooks in a file, so that separate runs see one webhook.
    state_dir = Path(os.environ.get("SMART_TRADER_SANDBOX_STATE_DIR", SANDBOX_STATE_DIR))
    webhooks = str(state_dir.resolve() / "helius_webhooks.json")
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
        "birdeye": BirdEyeClient.from_env(sandbox.from_environment()),
        "helius": HeliusClient.from_env(
            sandbox.from_environment(helius_state_path=webhooks),
            webhook_url=webhook_url or SANDBOX_WEBHOOK_URL,
            **webhook_auth,
        ),
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
