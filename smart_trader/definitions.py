"""The one Definitions object of the smart_trader code location."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from smart_trader.assets.bronze import build_bronze_assets
from smart_trader.assets.gold import SMART_WALLETS, build_gold_assets
from smart_trader.assets.monitoring import build_monitoring_assets
from smart_trader.assets.silver import build_silver_assets
from smart_trader.checks import blocking_check_keys, build_checks
from smart_trader.resources.birdeye import birdeye_from_env
from smart_trader.resources.delta_io_manager import DeltaIOManager
from smart_trader.resources.helius import helius_from_env
from smart_trader.resources.lake import LakeResource
from smart_trader.sensors import build_automation
from smart_trader.settings import Settings, load_settings


def default_resources() -> dict[str, Any]:
    """Keys, lake and sandbox choice come from the environment (README, Configuration)."""
    return {
        "io_manager": DeltaIOManager(),
        "lake": LakeResource(),
        "birdeye": birdeye_from_env(),
        "helius": helius_from_env(),
    }


def build_definitions(
    settings: Settings, resources: Mapping[str, Any] | None = None
) -> dg.Definitions:
    checks = build_checks(settings)
    return dg.Definitions(
        assets=[
            *build_bronze_assets(settings),
            *build_silver_assets(settings),
            *build_gold_assets(settings),
            *build_monitoring_assets(settings, blocking_check_keys(checks, SMART_WALLETS)),
        ],
        asset_checks=checks,
        sensors=build_automation(),
        resources=dict(resources) if resources is not None else default_resources(),
    )


defs = build_definitions(load_settings())
