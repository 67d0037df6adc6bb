"""gold/wallet_history: each wallet's record in gold as of day D, computed in DuckDB SQL."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from smart_trader import gold_history, schemas
from smart_trader.defs.automation import after_inputs
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.partitions import DAILY, day_of
from smart_trader.lake_sql import register_lake
from smart_trader.resources.lake import LakeResource

WALLET_HISTORY = dg.AssetKey(["gold", "wallet_history"])


def build_history_assets() -> list[dg.AssetsDefinition]:
    # It reads every gold day ≤ D through DuckDB, not through the IO manager; the dependency
    # Dagster sees is gold(D), the day whose arrival triggers it. After re-materializing an
    # older gold day, re-run this asset from that day on.
    @dg.asset(
        key=WALLET_HISTORY,
        partitions_def=DAILY,
        group_name="gold",
        kinds={"duckdb", "deltalake"},
        deps=[SMART_WALLETS],
        automation_condition=after_inputs(),
        description="Every wallet ranked in gold on some day ≤ D: days in gold, first and last "
        "day, best rank, rank on D and on D − 1, rank change (positive: climbed).",
    )
    def wallet_history(
        context: dg.AssetExecutionContext, duckdb: DuckDBResource, lake: LakeResource
    ) -> pl.DataFrame:
        day = day_of(context.partition_key)
        with duckdb.get_connection() as con:
            register_lake(con, lake.lake(), [schemas.SMART_WALLETS])
            history = gold_history.wallet_history(con, day)
        context.add_output_metadata(gold_history.summary(history))
        return history

    return [wallet_history]
