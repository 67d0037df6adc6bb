"""Silver: FIFO profit and loss per wallet and token, and per wallet, as of day D."""

import datetime as dt
from collections.abc import Iterator

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
from smart_trader.defs.materializations import latest_materialization_ids, materialized_days
from smart_trader.defs.partitions import (
    DAILY,
    day_of,
    fetch_plan_days,
    swaps_days,
    tracked_wallets_days,
    window_input,
)
from smart_trader.pnl.silver import compute_silver
from smart_trader.pnl.window import stale_swap_days, window_swaps
from smart_trader.settings import Settings

WALLET_TOKEN_PNL = dg.AssetKey(["silver", "wallet_token_pnl"])
WALLET_PNL = dg.AssetKey(["silver", "wallet_pnl"])
AUTOMATION = after_inputs([TOKEN_METRICS, TRANSACTION_HISTORY, TOKEN_PRICES])


def unfetched_days(instance: dg.DagsterInstance, day: dt.date, lookback_days: int) -> list[dt.date]:
    """Days P of D's window whose whale_holders exist but whose transaction_history does not."""
    window = window_days(day, lookback_days)
    holders = materialized_days(instance, WHALE_HOLDERS, window)
    swaps = materialized_days(instance, TRANSACTION_HISTORY, window)
    return sorted(holders - swaps)


def stale_days(instance: dg.DagsterInstance, day: dt.date, settings: Settings) -> list[dt.date]:
    """Days P of D's window whose transaction_history predates a whale_holders day it tracks."""
    window = window_days(day, settings.lookback_days)
    holders_window = window_days(day, fetch_plan_days(settings))
    return stale_swap_days(
        latest_materialization_ids(instance, TRANSACTION_HISTORY, window),
        latest_materialization_ids(instance, WHALE_HOLDERS, holders_window),
        settings.tracking_days,
    )


def window_problem(instance: dg.DagsterInstance, day: dt.date, settings: Settings) -> str | None:
    """Why silver(D) cannot be computed from the lake as it stands (DATA_CONTRACT.md), or None."""
    missing = unfetched_days(instance, day, settings.lookback_days)
    if missing:
        return (
            f"silver({day}) needs transaction_history for "
            f"{', '.join(d.isoformat() for d in missing)}: whale_holders exist for those "
            "days but their swaps were never fetched. Materialize transaction_history there."
        )
    stale = stale_days(instance, day, settings)
    if stale:
        return (
            f"silver({day}) reads stale transaction_history for "
            f"{', '.join(d.isoformat() for d in stale)}: a whale_holders day those partitions "
            "track was materialized after them. Re-materialize transaction_history there "
            "(automation does it)."
        )
    return None


def build_silver_assets(settings: Settings) -> list[dg.AssetsDefinition]:

    # Subsettable: the two outputs come from one FIFO pass, but Dagster's backfills expand a
    # range along the window mappings and may give the two outputs different partition sets
    # (a non-subsettable multi-asset then fails the whole launch). A run computes both and
    # stores only the outputs it was asked for, so each output's materializations say exactly
    # what was written.
    @dg.multi_asset(
        outs={
            "wallet_token_pnl": dg.AssetOut(
                key=WALLET_TOKEN_PNL,
                kinds={"polars", "deltalake"},
                description="FIFO PnL per (wallet tracked on D, non-quote token) over the window.",
                automation_condition=AUTOMATION,
                is_required=False,
            ),
            "wallet_pnl": dg.AssetOut(
                key=WALLET_PNL,
                kinds={"polars", "deltalake"},
                description="One row per wallet tracked on D with a swap in the window.",
                automation_condition=AUTOMATION,
                is_required=False,
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
        can_subset=True,
    )
    def silver_pnl(
        context: dg.AssetExecutionContext,
        transaction_history: pl.LazyFrame,
        whale_holders: pl.DataFrame,
        token_metrics: pl.DataFrame,
        token_prices: pl.DataFrame,
    ) -> Iterator[dg.Output[pl.DataFrame]]:
        day = day_of(context.partition_key)
        problem = window_problem(context.instance, day, settings)
        if problem:
            raise dg.Failure(problem)
        swaps = window_swaps(transaction_history, whale_holders, day, settings)
        wallet_token_pnl, wallet_pnl = compute_silver(
            swaps,
            as_of_date=day,
            quote_assets=settings.quote_asset_set,
            non_trade_sources=settings.non_trade_source_set,
            metric_prices=token_metrics.select("token_address", "price_usd"),
            api_prices=token_prices.select("token_address", "price_usd"),
        )
        context.log.info(
            f"silver({day}): {wallet_pnl.height} wallets, {wallet_token_pnl.height} "
            f"(wallet, token) pairs, realized PnL {wallet_pnl['realized_pnl_usd'].sum():,.2f} USD"
        )
        outputs = {WALLET_TOKEN_PNL: wallet_token_pnl, WALLET_PNL: wallet_pnl}
        for key, frame in outputs.items():
            if key in context.selected_asset_keys:
                yield dg.Output(frame, output_name=key.path[-1])

    return [silver_pnl]
