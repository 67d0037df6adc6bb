"""Bronze: what the APIs said, typed per the contract, one Delta partition per UTC day.

The assets wire the clients to the lake; fetching and parsing live in the clients and
smart_trader.ingest, so they can be tested without Dagster.
"""

import datetime as dt

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.days import day_start, window_days
from smart_trader.defs.automation import StaleSwapDays, after_inputs, newest_day_fetch
from smart_trader.defs.materializations import materialized_days
from smart_trader.defs.metadata import markdown_table
from smart_trader.defs.partitions import (
    DAILY,
    day_of,
    fetch_plan_days,
    swaps_days,
    tracked_wallets_days,
    window_dep,
    window_input,
)
from smart_trader.ingest.fetch_plan import swap_fetch_ranges
from smart_trader.ingest.ledger import FetchResult
from smart_trader.pnl.window import window_tokens
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

TOKEN_METRICS = dg.AssetKey(["bronze", "token_metrics"])
WHALE_HOLDERS = dg.AssetKey(["bronze", "whale_holders"])
TRANSACTION_HISTORY = dg.AssetKey(["bronze", "transaction_history"])
TOKEN_PRICES = dg.AssetKey(["bronze", "token_prices"])
REJECTED_RECORDS = dg.AssetKey(["bronze", "rejected_records"])
# Forward performance's fetch (defs/bronze/pick_swaps.py); it reads TRANSACTION_HISTORY's endpoint.
PICK_SWAPS = dg.AssetKey(["bronze", "pick_swaps"])

# Which endpoints each daily bronze fetch of day D reads (pick_swaps too reads
# /trader/txs/seek_by_time; bronze/checks.py FETCHES lists both).
ENDPOINTS: dict[dg.AssetKey, tuple[str, ...]] = {
    TOKEN_METRICS: ("/defi/v3/token/list",),
    WHALE_HOLDERS: ("/defi/v3/token/holder",),
    TRANSACTION_HISTORY: ("/trader/txs/seek_by_time",),
    TOKEN_PRICES: ("/defi/multi_price",),
}
COUNT_TERMS = ("received", "stored", "rejected", "filtered", "merged", "duplicate")

# The steps that call BirdEye share one Dagster pool: its limit (dagster.yaml, concurrency.pools,
# default 1) is how many may fetch at once across all runs, so that the plan's requests per
# second (each client's rate limit) is not multiplied by concurrent runs.
BIRDEYE_POOL = "birdeye"

# A live run for D starts no earlier than D+1 00:30 UTC, so that late-indexed swaps are in.
LIVE_SETTLING = dt.timedelta(minutes=30)


def count_metadata_key(endpoint: str, term: str) -> str:
    return f"{endpoint} {term}"


def _record_fetch(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    asset_key: dg.AssetKey,
    day: dt.date,
    result: FetchResult,
) -> pl.DataFrame:
    """Store the rejected records of this fetch; put the accounting and the HTTP counts in the
    metadata.

    Each asset replaces only its own rejected rows of the day (column `asset`): transaction_history
    and pick_swaps read the same endpoint for the same day."""
    asset = asset_key.to_user_string()
    lake.lake().write_partitions(
        schemas.REJECTED_RECORDS,
        result.rejected.with_columns(asset=pl.lit(asset)),
        [day],
        within=("asset", [asset]),
    )
    metadata: dict[str, dg.RawMetadataValue] = {}
    for endpoint, counts in sorted(result.counts.items()):
        for term in COUNT_TERMS:
            metadata[count_metadata_key(endpoint, term)] = int(getattr(counts, term))
    # What the wire did: requests, retries, 429s, 5xx and transport errors, total and per endpoint.
    metadata.update(result.stats)
    context.add_output_metadata(metadata)
    for endpoint, counts in sorted(result.counts.items()):
        context.log.info(
            f"{endpoint}: received {counts.received} = stored {counts.stored} + rejected "
            f"{counts.rejected} + filtered {counts.filtered} + merged {counts.merged} + "
            f"duplicate {counts.duplicate}"
        )
    return result.frame


def require_settled(birdeye: BirdEyeClient, asset: str, day: dt.date) -> None:
    """A live run for D starts no earlier than D+1 00:30 UTC, so that late-indexed swaps are in."""
    if birdeye.is_live:
        ready_at = day_start(day + dt.timedelta(days=1)) + LIVE_SETTLING
        if dt.datetime.now(dt.UTC) < ready_at:
            raise dg.Failure(
                f"{asset}({day}) from the live API starts no earlier than "
                f"{ready_at.isoformat()}, so that late-indexed swaps are in."
            )


def build_bronze_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=TOKEN_METRICS,
        partitions_def=DAILY,
        group_name="bronze",
        kinds={"polars", "deltalake"},
        automation_condition=newest_day_fetch(),
        pool=BIRDEYE_POOL,
        description="The tracked tokens of day D: the token list filtered, top by liquidity.",
    )
    def token_metrics(
        context: dg.AssetExecutionContext, birdeye: BirdEyeClient, lake: LakeResource
    ) -> pl.DataFrame:
        day = day_of(context.partition_key)
        result = birdeye.fetch_token_metrics(day, settings, log=context.log)
        return _record_fetch(context, lake, TOKEN_METRICS, day, result)

    @dg.asset(
        key=WHALE_HOLDERS,
        partitions_def=DAILY,
        group_name="bronze",
        kinds={"polars", "deltalake"},
        ins={"token_metrics": dg.AssetIn(TOKEN_METRICS)},
        automation_condition=after_inputs([TOKEN_METRICS]),
        pool=BIRDEYE_POOL,
        description="Top holders (whales) of each tracked token on day D, pools excluded.",
    )
    def whale_holders(
        context: dg.AssetExecutionContext,
        birdeye: BirdEyeClient,
        lake: LakeResource,
        token_metrics: pl.DataFrame,
    ) -> pl.DataFrame:
        day = day_of(context.partition_key)
        tokens = token_metrics.select("token_address", "price_usd")
        result = birdeye.fetch_whale_holders(day, tokens, settings, log=context.log)
        return _record_fetch(context, lake, WHALE_HOLDERS, day, result)

    @dg.asset(
        key=TRANSACTION_HISTORY,
        partitions_def=DAILY,
        group_name="bronze",
        kinds={"polars", "deltalake"},
        # Every holders day of the fetch plan is a dependency, so that a backfill fetches D
        # after all of them (a range computed without one is larger than a day-by-day run's).
        # Only the last tracking_days make D stale (DATA_CONTRACT.md, "Out of order"), and
        # only those make automation re-run D.
        deps=[window_dep(WHALE_HOLDERS, fetch_plan_days(settings))],
        automation_condition=after_inputs(
            [WHALE_HOLDERS],
            stale=StaleSwapDays(TRANSACTION_HISTORY, WHALE_HOLDERS, settings.tracking_days),
        ),
        pool=BIRDEYE_POOL,
        description=(
            "Every swap of each wallet tracked on D inside its fetch range "
            "[s_W(D), D+1 00:00) (DATA_CONTRACT.md: the range depends only on whale_holders)."
        ),
    )
    def transaction_history(
        context: dg.AssetExecutionContext,
        birdeye: BirdEyeClient,
        lake: LakeResource,
    ) -> pl.DataFrame:
        day = day_of(context.partition_key)
        if not materialized_days(context.instance, WHALE_HOLDERS, [day]):
            raise dg.Failure(
                f"transaction_history({day}) needs whale_holders({day}), which was never "
                "materialized: materialize it first (or select both)."
            )
        require_settled(birdeye, "transaction_history", day)
        whale_holders = (
            lake.lake()
            .scan(schemas.WHALE_HOLDERS, window_days(day, fetch_plan_days(settings)))
            .collect()
        )
        ranges = swap_fetch_ranges(
            whale_holders, day, settings.lookback_days, settings.tracking_days
        )
        context.log.info(
            f"fetching swaps of {ranges.height} tracked wallets; "
            f"{ranges.filter(pl.col('start') == day_start(day)).height} need only day {day}"
        )
        result = birdeye.fetch_swaps(day, ranges, settings.max_swaps_per_fetch, log=context.log)
        return _record_fetch(context, lake, TRANSACTION_HISTORY, day, result)

    @dg.asset(
        key=TOKEN_PRICES,
        partitions_def=DAILY,
        group_name="bronze",
        kinds={"polars", "deltalake"},
        ins={
            "transaction_history": window_input(TRANSACTION_HISTORY, swaps_days(settings)),
            "whale_holders": window_input(WHALE_HOLDERS, tracked_wallets_days(settings)),
        },
        automation_condition=after_inputs([TRANSACTION_HISTORY]),
        pool=BIRDEYE_POOL,
        description="Mark prices at the end of D of every non-quote token silver reads for D.",
    )
    def token_prices(
        context: dg.AssetExecutionContext,
        birdeye: BirdEyeClient,
        lake: LakeResource,
        transaction_history: pl.LazyFrame,
        whale_holders: pl.DataFrame,
    ) -> pl.DataFrame:
        day = day_of(context.partition_key)
        tokens = window_tokens(transaction_history, whale_holders, day, settings)
        context.log.info(f"pricing {len(tokens)} tokens at the end of {day}")
        result = birdeye.fetch_prices(day, tokens, log=context.log)
        return _record_fetch(context, lake, TOKEN_PRICES, day, result)

    @dg.asset(
        key=REJECTED_RECORDS,
        partitions_def=DAILY,
        group_name="bronze",
        kinds={"polars", "deltalake"},
        # The daily fetches only: pick_swaps judges an earlier gold day and must not hold the
        # day's summary (nor a stale day's re-run) back; its rejected rows are accounted by
        # the same check whenever it ran.
        deps=list(ENDPOINTS),
        automation_condition=after_inputs(list(ENDPOINTS)),
        description=(
            "API records of day D that broke a parsing rule, with the reason. The bronze "
            "assets write their own endpoint's rows; this asset publishes the day's summary."
        ),
    )
    def rejected_records(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> dg.MaterializeResult:
        day = day_of(context.partition_key)
        frame = lake.lake().scan(schemas.REJECTED_RECORDS, [day]).collect()
        by_reason = (
            frame.group_by("endpoint", "reason").len().sort("endpoint", "len", descending=True)
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": frame.height,
                "by_endpoint_and_reason": dg.MetadataValue.md(
                    markdown_table(by_reason) if by_reason.height else "no rejected records"
                ),
            }
        )

    return [
        token_metrics,
        whale_holders,
        transaction_history,
        token_prices,
        rejected_records,
    ]
