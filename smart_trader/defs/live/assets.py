"""Real-time monitoring: the receiver's tables (external assets), the watched wallets intraday."""

import datetime as dt

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.days import days_between, window_first
from smart_trader.defs.bronze.assets import TRANSACTION_HISTORY
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.metadata import markdown_table
from smart_trader.defs.partitions import DAILY, day_of
from smart_trader.defs.silver.assets import WALLET_TOKEN_PNL
from smart_trader.helius_sync import MAX_GOLD_AGE
from smart_trader.lake import Lake
from smart_trader.receiver.positions import latest_trades, watched_positions, watched_wallets
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

WEBHOOK_EVENTS = dg.AssetKey(["bronze", "webhook_events"])
LIVE_SWAPS = dg.AssetKey(["bronze", "live_swaps"])
WATCHED_POSITIONS = dg.AssetKey(["live", "watched_positions"])
GOLD_AGE_DAYS = MAX_GOLD_AGE.days
PREVIEW_WALLETS, PREVIEW_TRADES = 10, 20

RECEIVER_SPECS = [
    dg.AssetSpec(
        WEBHOOK_EVENTS,
        group_name="live",
        kinds={"deltalake"},
        partitions_def=DAILY,
        description=(
            "Every item Helius delivered to the receiver (smart-trader receiver serve), by block "
            "day: the raw item as received plus parsed fields. Written by the receiver, not by "
            "Dagster."
        ),
    ),
    dg.AssetSpec(
        LIVE_SWAPS,
        group_name="live",
        kinds={"deltalake"},
        partitions_def=DAILY,
        deps=[WEBHOOK_EVENTS],
        description=(
            "The watched wallets' swaps as delivered, in transaction_history's columns, from each "
            "transaction's net change per mint. Written by the receiver; the live_swaps sensor "
            "reports its new versions."
        ),
    ),
]


def newest_gold_before(instance: dg.DagsterInstance, day: dt.date) -> dt.date | None:
    """The newest gold day G in [D − 3, D − 1]: older gold is not followed (as by the sync)."""
    done = {day_of(k) for k in instance.get_materialized_partitions(SMART_WALLETS)}
    candidates = [d for d in done if day - dt.timedelta(days=GOLD_AGE_DAYS) <= d < day]
    return max(candidates, default=None)


def _history(lake: Lake, day: dt.date, lookback_days: int, wallets: pl.DataFrame) -> pl.DataFrame:
    """transaction_history of `wallets`, partitions of D's window, each key once (latest day)."""
    key = list(schemas.TRANSACTION_HISTORY.key)
    return (
        lake.scan(schemas.TRANSACTION_HISTORY, days_between(window_first(day, lookback_days), day))
        .join(wallets.lazy(), on="wallet_address", how="semi")
        .filter(pl.col("ingest_date") == pl.col("ingest_date").max().over(key))
        .collect()
    )


def build_live_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    previous_days = dg.TimeWindowPartitionMapping(
        start_offset=-GOLD_AGE_DAYS, end_offset=-1, allow_nonexistent_upstream_partitions=True
    )

    @dg.asset(
        key=WATCHED_POSITIONS,
        group_name="live",
        kinds={"polars", "deltalake"},
        partitions_def=DAILY,
        deps=[
            LIVE_SWAPS,
            dg.AssetDep(SMART_WALLETS, partition_mapping=previous_days),
            dg.AssetDep(WALLET_TOKEN_PNL, partition_mapping=previous_days),
            TRANSACTION_HISTORY,
        ],
        description=(
            "The watched wallets (top of the newest gold day G before D) intraday: the positions "
            "their trades since G opened, closed, increased or reduced, valued by silver's FIFO "
            "engine as of D. Refreshed by the live_swaps sensor; the metadata lists the latest "
            "trades of the top wallets."
        ),
    )
    def watched_positions_asset(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> dg.MaterializeResult:
        day = day_of(context.partition_key)
        store = lake.lake()
        gold_date = newest_gold_before(context.instance, day)
        metadata: dict[str, dg.RawMetadataValue] = {
            "gold_partition": str(gold_date) if gold_date else "",
            "dagster/uri": store.table_uri(schemas.LIVE_POSITIONS),
        }
        live = pl.DataFrame(schema=schemas.LIVE_SWAPS.schema)
        if gold_date is not None:
            since = gold_date + dt.timedelta(days=1)
            live = store.scan(schemas.LIVE_SWAPS, days_between(since, day)).collect()
        if gold_date is None or live.is_empty():
            # Nothing live to value: no gold day to follow, or no delivery since it.
            reason = (
                f"no gold/smart_wallets partition in the {GOLD_AGE_DAYS} days before {day}"
                if gold_date is None
                else f"no live swaps since gold({gold_date})"
            )
            context.log.info(f"watched_positions({day}): {reason}")
            version = store.write_partitions(
                schemas.LIVE_POSITIONS, schemas.LIVE_POSITIONS.empty(), [day]
            )
            return dg.MaterializeResult(
                metadata={**metadata, "status": reason, "rows": 0, "delta_version": version}
            )
        gold = store.read_day(schemas.SMART_WALLETS, gold_date)
        watched = watched_wallets(gold, settings.helius_max_addresses)
        positions, trades = watched_positions(
            day=day,
            gold_date=gold_date,
            watched=watched,
            history=_history(store, day, settings.lookback_days, watched.select("wallet_address")),
            live_swaps=live,
            pnl_at_gold=store.read_day(schemas.WALLET_TOKEN_PNL, gold_date),
            lookback_days=settings.lookback_days,
            quote_assets=settings.quote_asset_set,
            non_trade_sources=settings.non_trade_source_set,
            computed_at=dt.datetime.now(dt.UTC),
        )
        version = store.write_partitions(schemas.LIVE_POSITIONS, positions, [day])
        changes = positions.group_by("position_change").len().sort("position_change")
        context.log.info(
            f"watched_positions({day}): {trades.height} trades since gold({gold_date}) of "
            f"{trades.get_column('wallet_address').n_unique()} watched wallets, "
            f"{positions.height} positions touched"
        )
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "status": "ok",
                "rows": positions.height,
                "delta_version": version,
                "watched_wallets": watched.height,
                "trades_since_gold": trades.height,
                "live_swaps_read": live.height,
                "position_changes": dg.MetadataValue.json(dict(changes.iter_rows())),
                "latest_trades_of_top_wallets": dg.MetadataValue.md(
                    markdown_table(latest_trades(trades, watched, PREVIEW_WALLETS, PREVIEW_TRADES))
                ),
            }
        )

    return [watched_positions_asset]
