"""Real-time monitoring: the receiver's tables, the watched wallets intraday, the sensor."""

import dagster as dg

from smart_trader import schemas
from smart_trader.defs.checks import build_checks, table_rules
from smart_trader.defs.live.assets import RECEIVER_SPECS, WATCHED_POSITIONS, build_live_assets
from smart_trader.defs.live.checks import live_matches_history_check
from smart_trader.defs.live.sensors import LIVE_POSITIONS_JOB, live_swaps_sensor
from smart_trader.settings import Settings


def live_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*RECEIVER_SPECS, *build_live_assets(settings)],
        asset_checks=[
            *build_checks(table_rules(WATCHED_POSITIONS, schemas.LIVE_POSITIONS), settings),
            live_matches_history_check(),
        ],
        jobs=[LIVE_POSITIONS_JOB],
        sensors=[live_swaps_sensor()],
    )
