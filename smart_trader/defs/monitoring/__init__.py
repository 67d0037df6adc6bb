"""Monitoring: the Helius webhook kept on the top wallets of the newest gold day."""

import dagster as dg

from smart_trader.defs.monitoring.assets import build_monitoring_assets
from smart_trader.defs.monitoring.checks import sync_log_check
from smart_trader.settings import Settings


def monitoring_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=build_monitoring_assets(settings),
        asset_checks=[sync_log_check()],
    )
