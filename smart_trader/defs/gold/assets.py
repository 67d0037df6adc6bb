"""Gold: the wallets that are consistently profitable, ranked into tiers, as of day D."""

import dagster as dg
import polars as pl

from smart_trader.defs.automation import after_inputs
from smart_trader.defs.metadata import markdown_table
from smart_trader.defs.partitions import DAILY, day_of
from smart_trader.defs.silver.assets import WALLET_PNL
from smart_trader.gold_rules import rank_smart_wallets, top_wallets
from smart_trader.settings import Settings

SMART_WALLETS = dg.AssetKey(["gold", "smart_wallets"])
PREVIEW_ROWS = 10


def build_gold_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=SMART_WALLETS,
        partitions_def=DAILY,
        group_name="gold",
        kinds={"polars", "deltalake"},
        ins={"wallet_pnl": dg.AssetIn(WALLET_PNL)},
        automation_condition=after_inputs(),
        description="Eligible wallets ranked by tier (ELITE, STRONG, PROMISING), then score.",
    )
    def smart_wallets(context: dg.AssetExecutionContext, wallet_pnl: pl.DataFrame) -> pl.DataFrame:
        day = day_of(context.partition_key)
        ranked = rank_smart_wallets(wallet_pnl, as_of_date=day, thresholds=settings.eligibility)
        preview = top_wallets(ranked, PREVIEW_ROWS)
        context.add_output_metadata(
            {
                "tiers": dg.MetadataValue.json(
                    dict(ranked.group_by("tier").len().sort("tier").iter_rows())
                ),
                "top_wallets": dg.MetadataValue.md(
                    markdown_table(preview) if preview.height else "no eligible wallet"
                ),
            }
        )
        context.log.info(f"gold({day}): {ranked.height} smart wallets of {wallet_pnl.height}")
        return ranked

    return [smart_wallets]
