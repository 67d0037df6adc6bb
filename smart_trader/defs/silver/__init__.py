"""Silver: FIFO profit and loss per wallet and token, and per wallet, as of day D."""

import dagster as dg

from smart_trader.defs.checks import build_checks
from smart_trader.defs.silver.assets import build_silver_assets
from smart_trader.defs.silver.checks import silver_rules
from smart_trader.settings import Settings


def silver_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=build_silver_assets(settings),
        asset_checks=build_checks(silver_rules(settings), settings),
    )
