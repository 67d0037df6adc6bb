"""Gold: the wallets whose profits are skill, ranked into tiers, as of day D."""

import dagster as dg

from smart_trader.defs.checks import build_checks
from smart_trader.defs.gold.assets import build_gold_assets
from smart_trader.defs.gold.checks import gold_rules, history_rules, pick_performance_rules
from smart_trader.defs.gold.history import build_history_assets
from smart_trader.defs.gold.pick_performance import build_pick_performance
from smart_trader.settings import Settings


def gold_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            *build_gold_assets(settings),
            *build_history_assets(),
            build_pick_performance(settings),
        ],
        asset_checks=build_checks(
            [*gold_rules(settings), *history_rules(), *pick_performance_rules(settings)], settings
        ),
    )
