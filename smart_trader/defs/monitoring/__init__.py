"""Monitoring: the Helius webhook kept on the top wallets of the newest gold day."""

import dagster as dg

from smart_trader.defs.gold.checks import gold_rules
from smart_trader.defs.monitoring.assets import build_monitoring_assets
from smart_trader.defs.monitoring.checks import sync_log_check
from smart_trader.settings import Settings


def monitoring_defs(settings: Settings) -> dg.Definitions:
    gold_blocking = [rule.key for rule in gold_rules(settings) if rule.blocking]
    return dg.Definitions(
        assets=build_monitoring_assets(settings, gold_blocking),
        asset_checks=[sync_log_check()],
    )
