"""gold/pick_performance: the forward PnL of each wallet of the cohort of D = E − forward_days,
by silver's own engine on its pick_swaps(E) alone (DATA_CONTRACT.md "Forward performance")."""

import dagster as dg
import polars as pl
import polars.selectors as cs

from smart_trader.defs.automation import after_inputs
from smart_trader.defs.bronze.assets import PICK_SWAPS, TOKEN_PRICES
from smart_trader.defs.bronze.pick_swaps import picked_cohort
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.metadata import markdown_table
from smart_trader.defs.partitions import DAILY, day_of, forward_input
from smart_trader.defs.silver.assets import WALLET_PNL
from smart_trader.pnl.forward import pick_performance, picked_on, tier_summary
from smart_trader.resources.delta_io_manager import ALLOW_MISSING
from smart_trader.settings import Settings

PICK_PERFORMANCE = dg.AssetKey(["gold", "pick_performance"])


def build_pick_performance(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=PICK_PERFORMANCE,
        partitions_def=DAILY,
        group_name="gold",
        kinds={"polars", "deltalake"},
        ins={
            "pick_swaps": dg.AssetIn(PICK_SWAPS),
            # The marks of day E where token_prices(E) is materialized.
            "token_prices": dg.AssetIn(TOKEN_PRICES, metadata={ALLOW_MISSING: True}),
            # The cohort's tiers and ranks.
            "smart_wallets": forward_input(SMART_WALLETS, settings),
            "wallet_pnl": forward_input(WALLET_PNL, settings),
        },
        automation_condition=after_inputs([PICK_SWAPS, TOKEN_PRICES]),
        description=(
            f"Forward PnL over [D+1, E] of every wallet of the cohort of D = E − "
            f"{settings.forward_days} (gold(D) and its BASELINE), from its pick_swaps(E) alone."
        ),
    )
    def pick_performance_asset(
        context: dg.AssetExecutionContext,
        pick_swaps: pl.DataFrame,
        token_prices: pl.DataFrame,
        smart_wallets: pl.DataFrame,
        wallet_pnl: pl.DataFrame,
    ) -> pl.DataFrame:
        day = day_of(context.partition_key)
        picked = picked_on(day, settings.forward_days)
        members = picked_cohort(
            context.instance, picked, smart_wallets, wallet_pnl, settings.baseline_size
        )
        performance = pick_performance(
            pick_swaps,
            members,
            evaluated_on=day,
            picked_on=picked,
            quote_assets=settings.quote_asset_set,
            non_trade_sources=settings.non_trade_source_set,
            api_prices=token_prices,
        )
        summary = tier_summary(performance)
        context.add_output_metadata(
            {
                "picked_on": picked.isoformat(),
                "by_tier": dg.MetadataValue.md(
                    markdown_table(summary.with_columns(cs.float().round(4)))
                ),
            }
        )
        context.log.info(f"pick_performance({day}): {performance.height} wallets picked {picked}")
        return performance

    return pick_performance_asset
