"""Silver: FIFO profit and loss per wallet and token, and per wallet, as of day D."""

import datetime as dt

import dagster as dg
import polars as pl

from smart_trader.days import window_days
from smart_trader.defs.automation import after_inputs
from smart_trader.defs.bronze.assets import (
    TOKEN_METRICS,
    TOKEN_PRICES,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
)
from smart_trader.defs.materializations import materialized_days
from smart_trader.defs.partitions import (
    DAILY,
    day_of,
    swaps_days,
    tracked_wallets_days,
    window_input,
)
from smart_trader.pnl.fifo import compute_silver
from smart_trader.pnl.window import window_swaps
from smart_trader.settings import Settings

WALLET_TOKEN_PNL = dg.AssetKey(["silver", "wallet_token_pnl"])
WALLET_PNL = dg.AssetKey(["silver", "wallet_pnl"])
AUTOMATION = after_inputs([TRANSACTION_HISTORY, WHALE_HOLDERS])


def unfetched_days(instance: dg.DagsterInstance, day: dt.date, lookback_days: int) -> list[dt.date]:
    """Days P of D's window whose whale_holders exist but whose transaction_history does not."""
    window = window_days(day, lookback_days)
    holders = materialized_days(instance, WHALE_HOLDERS, window)
    swaps = materialized_days(instance, TRANSACTION_HISTORY, window)
    return sorted(holders - swaps)


def build_silver_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        outs={
            "wallet_token_pnl": dg.AssetOut(
                key=WALLET_TOKEN_PNL,
                kinds={"polars", "deltalake"},
                description="FIFO PnL per (wallet tracked on D, non-quote token) over the window.",
                automation_condition=AUTOMATION,
            ),
            "wallet_pnl": dg.AssetOut(
                key=WALLET_PNL,
                kinds={"polars", "deltalake"},
                description="One row per wallet tracked on D with a swap in the window.",
                automation_condition=AUTOMATION,
            ),
        },
        ins={
            "transaction_history": window_input(TRANSACTION_HISTORY, swaps_days(settings)),
            "whale_holders": window_input(WHALE_HOLDERS, tracked_wallets_days(settings)),
            "token_metrics": dg.AssetIn(TOKEN_METRICS),
            "token_prices": dg.AssetIn(TOKEN_PRICES),
        },
        partitions_def=DAILY,
        group_name="silver",
    )
    def silver_pnl(
        context: dg.AssetExecutionContext,
        transaction_history: pl.LazyFrame,
        whale_holders: pl.DataFrame,
        token_metrics: pl.DataFrame,
        token_prices: pl.DataFrame,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        day = day_of(context.partition_key)
        missing = unfetched_days(context.instance, day, settings.lookback_days)
        if missing:
            raise dg.Failure(
                f"silver({day}) needs transaction_history for "
                f"{', '.join(d.isoformat() for d in missing)}: whale_holders exist for those "
                "days but their swaps were never fetched. Materialize transaction_history there."
            )
        swaps = window_swaps(transaction_history, whale_holders, day, settings)
        wallet_token_pnl, wallet_pnl = compute_silver(
            swaps,
            as_of_date=day,
            quote_assets=settings.quote_asset_set,
            metric_prices=token_metrics.select("token_address", "price_usd"),
            api_prices=token_prices.select("token_address", "price_usd"),
        )
        context.log.info(
            f"silver({day}): {wallet_pnl.height} wallets, {wallet_token_pnl.height} "
            f"(wallet, token) pairs, realized PnL {wallet_pnl['realized_pnl_usd'].sum():,.2f} USD"
        )
        return wallet_token_pnl, wallet_pnl

    return [silver_pnl]
