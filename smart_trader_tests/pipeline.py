"""Helpers to run the real asset graph on the in-process sandbox in tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from smart_trader.definitions import build_definitions
from smart_trader.defs.monitoring.assets import HELIUS_SYNC_LOG
from smart_trader.lake import Lake
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.resources.delta_io_manager import DeltaIOManager
from smart_trader.resources.helius import HeliusClient
from smart_trader.resources.lake import LakeResource
from smart_trader.sandbox.transport import in_process
from smart_trader.settings import Settings

SEED = 11
WEBHOOK_URL = "https://hooks.smart-trader.test/helius"


def sync_config(today: dt.date) -> dict[str, Any]:
    return {"ops": {"monitoring__helius_sync_log": {"config": {"today": today.isoformat()}}}}


@dataclass
class Pipeline:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    lake: Lake

    def run(self, day: dt.date, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        """Every asset and check for `day`; the webhook sync sees `day` + 1 as today."""
        job = self.defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(
            instance=self.instance,
            partition_key=day.isoformat(),
            raise_on_error=raise_on_error,
            run_config=sync_config(day + dt.timedelta(days=1)),
        )

    def run_selection(
        self, day: dt.date, keys: list[dg.AssetKey], raise_on_error: bool = True
    ) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(
            instance=self.instance,
            partition_key=day.isoformat(),
            asset_selection=keys,
            raise_on_error=raise_on_error,
            run_config=sync_config(day + dt.timedelta(days=1)) if HELIUS_SYNC_LOG in keys else None,
        )


def build_pipeline(
    tmp_path: Path,
    settings: Settings,
    faults: str | None = None,
    seed: int = SEED,
    instance: dg.DagsterInstance | None = None,
) -> Pipeline:
    lake_uri = str(tmp_path / "lake")
    resources = {
        "io_manager": DeltaIOManager(lake_uri=lake_uri),
        "lake": LakeResource(lake_uri=lake_uri),
        "birdeye": BirdEyeClient(
            connection=in_process(seed, faults),
            backoff_initial_seconds=0.0,
            backoff_jitter_seconds=0.0,
            backoff_max_seconds=0.0,
        ),
        "helius": HeliusClient(
            connection=in_process(helius_state_path=str(tmp_path / "helius_webhooks.json")),
            webhook_url=WEBHOOK_URL,
        ),
    }
    return Pipeline(
        defs=build_definitions(settings, resources),
        instance=instance or dg.DagsterInstance.ephemeral(),
        lake=LakeResource(lake_uri=lake_uri).lake(),
    )
