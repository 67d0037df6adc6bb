"""bronze/pick_swaps: the swaps, after D, of the cohort of D (gold(D) and its baseline),
partitioned by the evaluation day E = D + forward_days (DATA_CONTRACT.md "Forward performance").

Fetched and parsed exactly as transaction_history (the same client call, rules and accounting),
with each wallet's range [D+1 00:00, E+1 00:00).
"""

import datetime as dt

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.days import day_start
from smart_trader.defs.automation import after_inputs
from smart_trader.defs.bronze.assets import BIRDEYE_POOL, PICK_SWAPS, _record_fetch, require_settled
from smart_trader.defs.materializations import materialized_days
from smart_trader.defs.partitions import DAILY, day_of, forward_input
from smart_trader.pnl.forward import COHORT_SCHEMA, cohort, picked_on
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

# Read from later layers: keyed by their tables' paths (as the IO manager maps them), since bronze
# is imported before silver and gold.
SMART_WALLETS = dg.AssetKey(schemas.SMART_WALLETS.path.split("/"))
WALLET_PNL = dg.AssetKey(schemas.WALLET_PNL.path.split("/"))


def picked_cohort(
    instance: dg.DagsterInstance,
    picked: dt.date,
    smart_wallets: pl.DataFrame,
    wallet_pnl: pl.DataFrame,
    baseline_size: int,
) -> pl.DataFrame:
    """The cohort of D; empty when gold(D) was never materialized (a gold day materialized with
    no wallet still has its baseline)."""
    if not materialized_days(instance, SMART_WALLETS, [picked]):
        return pl.DataFrame(schema=COHORT_SCHEMA)
    return cohort(smart_wallets, wallet_pnl, baseline_size)


def build_pick_swaps(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=PICK_SWAPS,
        partitions_def=DAILY,
        group_name="bronze",
        kinds={"polars", "deltalake"},
        ins={
            "smart_wallets": forward_input(SMART_WALLETS, settings),
            "wallet_pnl": forward_input(WALLET_PNL, settings),
        },
        # Its inputs are days before E, legitimately missing (then E is empty): no same-day input.
        automation_condition=after_inputs([]),
        pool=BIRDEYE_POOL,
        description=(
            f"Every swap of each wallet of the cohort of D = E − {settings.forward_days} "
            "(forward_days: gold(D) plus its baseline) with block_time in [D+1 00:00, E+1 00:00); "
            "empty if gold(D) was never materialized."
        ),
    )
    def pick_swaps(
        context: dg.AssetExecutionContext,
        birdeye: BirdEyeClient,
        lake: LakeResource,
        smart_wallets: pl.DataFrame,
        wallet_pnl: pl.DataFrame,
    ) -> pl.DataFrame:
        day = day_of(context.partition_key)
        picked = picked_on(day, settings.forward_days)
        require_settled(birdeye, "pick_swaps", day)
        members = picked_cohort(
            context.instance, picked, smart_wallets, wallet_pnl, settings.baseline_size
        )
        start = day_start(picked + dt.timedelta(days=1))
        ranges = members.select("wallet_address", start=pl.lit(start, dtype=schemas.UTC_TIMESTAMP))
        context.log.info(
            f"fetching the swaps since {start.isoformat()} of the {members.height} cohort wallets "
            f"of {picked}"
        )
        result = birdeye.fetch_swaps(day, ranges, settings.max_swaps_per_fetch, log=context.log)
        frame = _record_fetch(context, lake, PICK_SWAPS, day, result)
        return schemas.conform(frame.rename({"ingest_date": "evaluated_on"}), schemas.PICK_SWAPS)

    return pick_swaps
