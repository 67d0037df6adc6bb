"""Bronze: what the APIs said, typed per the contract, one Delta partition per UTC day."""

import dagster as dg

from smart_trader.defs.bronze.assets import build_bronze_assets
from smart_trader.defs.bronze.checks import bronze_rules, data_source_check
from smart_trader.defs.bronze.pick_swaps import build_pick_swaps
from smart_trader.defs.checks import build_checks
from smart_trader.settings import Settings


def bronze_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*build_bronze_assets(settings), build_pick_swaps(settings)],
        asset_checks=[*build_checks(bronze_rules(settings), settings), data_source_check()],
    )
