"""Automation: when each asset runs by itself, the job a range backfill targets, and the sensors.

Every daily asset runs for a day D in two cases, and never while a run could fail for want of
inputs:
- the newest day (the latest complete UTC day), once it is settled (D+1 00:30 UTC, so that
  late-indexed swaps are in) and its same-day inputs are materialized. Nothing else is needed:
  a daemon started late, or started for the first time, catches up on the newest day at its
  first evaluation;
- a materialized day whose inputs changed since (stale: "Unsynced" in the UI), e.g. the days a
  re-materialized whale_holders(Q) makes stale (transaction_history [Q, Q + tracking_days − 1],
  DATA_CONTRACT.md "Out of order") and the days that read those.
In both cases only after every upstream day it reads is done: a day waits while one of them is in
progress or about to be requested in the same evaluation, so stale days are re-run layer by
layer, in dependency order, and silver(D+1) never runs while D's fetch does. A failed run is not
retried by itself (on the live API a retry costs requests): fix the cause and materialize the
day. Older days that were never materialized are left alone: backfill them (README).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import dagster as dg

from smart_trader import schemas
from smart_trader.days import day_start, days_between, window_first
from smart_trader.defs.materializations import latest_materialization_ids
from smart_trader.defs.partitions import DAILY, day_of
from smart_trader.intraday import changed_share
from smart_trader.pnl.window import stale_swap_days
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.resources.lake import LakeResource
from smart_trader.settings import Settings

# A day's data is complete 30 minutes after it ends (DATA_CONTRACT.md: live runs for D start no
# earlier than D+1 00:30 UTC).
SETTLING = dt.timedelta(minutes=30)
AUTOMATION_SENSOR = "smart_trader_automation"
INTRADAY_SENSOR = "smart_trader_intraday"
TOKEN_METRICS = dg.AssetKey(["bronze", "token_metrics"])
DAILY_PIPELINE = "daily_pipeline"


class SettledDay(dg.AutomationCondition[dg.AssetKey]):
    """Days D whose end plus the settling time has passed."""

    @property
    def name(self) -> str:
        return "day settled (D+1 00:30 UTC)"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:  # type: ignore[type-arg]
        now = context.evaluation_time
        days = {
            key
            for key in context.candidate_subset.expensively_compute_partition_keys()
            if key is not None and now >= day_start(day_of(key)) + dt.timedelta(days=1) + SETTLING
        }
        return dg.AutomationResult(
            context, context.candidate_subset.compute_intersection_with_partition_keys(days)
        )


class SameDayMaterialized(dg.AutomationCondition[dg.AssetKey]):
    """Days D for which every given upstream asset has a materialization of D itself.

    Dagster's any_deps_missing looks at every mapped upstream day; a window (a week of holders,
    a month of swaps) legitimately reaches before the first materialized day, while the
    same-day inputs must exist.
    """

    def __init__(self, keys: Sequence[dg.AssetKey]) -> None:
        self.keys = tuple(keys)

    @property
    def name(self) -> str:
        return "same-day inputs materialized: " + ", ".join(k.to_user_string() for k in self.keys)

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:  # type: ignore[type-arg]
        instance = context.asset_graph_view.instance
        days = set(context.candidate_subset.expensively_compute_partition_keys())
        for key in self.keys:
            days &= instance.get_materialized_partitions(key)
        return dg.AutomationResult(
            context, context.candidate_subset.compute_intersection_with_partition_keys(days)
        )


class StaleSwapDays(dg.AutomationCondition[dg.AssetKey]):
    """transaction_history days D materialized before one of whale_holders
    [D − (tracking_days − 1), D] was last materialized: the contract's stale days."""

    def __init__(
        self, swaps_key: dg.AssetKey, holders_key: dg.AssetKey, tracking_days: int
    ) -> None:
        self.swaps_key = swaps_key
        self.holders_key = holders_key
        self.tracking_days = tracking_days

    @property
    def name(self) -> str:
        return f"stale: a whale_holders day of the last {self.tracking_days} is newer"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:  # type: ignore[type-arg]
        instance = context.asset_graph_view.instance
        days = sorted(
            day_of(key)
            for key in context.candidate_subset.expensively_compute_partition_keys()
            if key is not None
        )
        stale: list[dt.date] = []
        if days:
            holders_days = days_between(window_first(days[0], self.tracking_days), days[-1])
            stale = stale_swap_days(
                latest_materialization_ids(instance, self.swaps_key, days),
                latest_materialization_ids(instance, self.holders_key, holders_days),
                self.tracking_days,
            )
        return dg.AutomationResult(
            context,
            context.candidate_subset.compute_intersection_with_partition_keys(
                {day.isoformat() for day in stale}
            ),
        )


def _newest_day() -> dg.AutomationCondition:
    return (
        dg.AutomationCondition.in_latest_time_window()
        & SettledDay()
        & dg.AutomationCondition.missing()
        & ~dg.AutomationCondition.execution_failed()
    )


def _upstream_settled() -> dg.AutomationCondition:
    """No upstream day this day reads is running or requested in this same evaluation."""
    return ~dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.in_progress() | dg.AutomationCondition.will_be_requested()
    )


def newest_day_fetch() -> dg.AutomationCondition:
    """token_metrics: the newest day, once settled; a late daemon catches up at once."""
    return (_newest_day() & ~dg.AutomationCondition.in_progress()).with_label(
        "newest day, settled (D+1 00:30 UTC), not yet materialized"
    )


def after_inputs(
    same_day: Sequence[dg.AssetKey] | None = None, stale: dg.AutomationCondition | None = None
) -> dg.AutomationCondition:
    """The newest day once its same-day inputs exist, or a materialized day that is stale;
    always after every upstream day it reads is done and passed its blocking checks.

    `same_day`: the inputs whose day D must be materialized (empty: none, as for pick_swaps,
    whose only inputs are earlier days that may legitimately be missing); without it, every
    input (for assets whose inputs are all same-day). `stale`: which materialized days to re-run; by
    default those with an input updated since (Dagster's "Unsynced").
    """
    inputs_exist = (
        ~dg.AutomationCondition.any_deps_missing()
        if same_day is None
        else SameDayMaterialized(same_day)
    )
    if stale is None:
        stale = dg.AutomationCondition.any_deps_updated().since_last_handled()
    else:
        stale = stale & ~dg.AutomationCondition.execution_failed()
    stale = ~dg.AutomationCondition.missing() & stale
    return (
        (_newest_day() | stale)
        & inputs_exist
        & ~dg.AutomationCondition.in_progress()
        & _upstream_settled()
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("newest day or stale, after its inputs, blocking checks passed")


def after_any_gold_update() -> dg.AutomationCondition:
    """The webhook sync follows a new gold day once its run is over and its blocking checks
    passed (the sync checks them itself too, and applies the 3-day rule)."""
    fresh_and_checked = dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.in_latest_time_window()
        & dg.AutomationCondition.all_checks_match(
            dg.AutomationCondition.check_passed(), blocking_only=True
        )
    )
    return (
        dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & fresh_and_checked
    ).with_label("after a fresh gold day whose blocking checks passed")


def daily_pipeline_job() -> dg.UnresolvedAssetJobDefinition:
    """Every daily asset and its checks for one day (`dg launch --job daily_pipeline`)."""
    return dg.define_asset_job(
        DAILY_PIPELINE,
        selection=daily_assets(),
        description=(
            "Every daily asset and its checks for one UTC day, in dependency order. For a range "
            "use an asset backfill (`smart-trader backfill`, or Materialize all… in the UI): "
            "it orders the days by their windows."
        ),
    )


def daily_assets() -> dg.AssetSelection:
    """Every daily asset: bronze, silver and gold (the Helius sync follows gold by itself)."""
    return dg.AssetSelection.all() - dg.AssetSelection.groups("monitoring")


def intraday_sensor(settings: Settings) -> dg.SensorDefinition:
    """Refreshes the newest day when the tokens passing the filters now differ from its
    token_metrics by more than SMART_TRADER_INTRADAY_CHANGE_SHARE."""
    threshold = settings.intraday_change_share

    @dg.sensor(
        name=INTRADAY_SENSOR,
        minimum_interval_seconds=settings.intraday_interval_seconds,
        # Off by default: each evaluation reads the token list from BirdEye (live requests).
        default_status=dg.DefaultSensorStatus.STOPPED,
        asset_selection=daily_assets(),
        description=(
            f"Every {settings.intraday_interval_seconds} s "
            "(SMART_TRADER_INTRADAY_INTERVAL_SECONDS): reads the token list now and compares the "
            "tokens passing the filters with the newest day's token_metrics; if more than "
            f"{threshold:.0%} (SMART_TRADER_INTRADAY_CHANGE_SHARE) changed, requests a refresh of "
            "that day's bronze, silver and gold (one run per token set). Off by default, since "
            "each evaluation costs BirdEye requests: start it in the UI (Automation) or with "
            f"`dagster sensor start {INTRADAY_SENSOR} -m smart_trader.definitions`."
        ),
    )
    def smart_trader_intraday(
        context: dg.SensorEvaluationContext, birdeye: BirdEyeClient, lake: LakeResource
    ) -> dg.RunRequest | dg.SkipReason:
        partition = DAILY.get_last_partition_key()
        if partition is None or partition not in context.instance.get_materialized_partitions(
            TOKEN_METRICS
        ):
            return dg.SkipReason(f"token_metrics({partition}) is not materialized yet")
        day = day_of(partition)
        then = set(
            lake.lake().scan(schemas.TOKEN_METRICS, [day]).collect().get_column("token_address")
        )
        now = set(
            birdeye.fetch_token_metrics(day, settings, log=context.log)
            .frame.get_column("token_address")
            .to_list()
        )
        share = changed_share(now, then)
        if share <= threshold:
            return dg.SkipReason(
                f"{share:.0%} of the tracked tokens of {day} changed (threshold {threshold:.0%})"
            )
        tokens = hashlib.sha256(",".join(sorted(now)).encode()).hexdigest()[:16]
        context.log.info(f"{share:.0%} of the tracked tokens of {day} changed: refreshing {day}")
        # One run per (day, token set): a later evaluation that sees the same tokens is the
        # same request, which Dagster does not launch twice.
        return dg.RunRequest(run_key=f"intraday-{day}-{tokens}", partition_key=partition)

    return smart_trader_intraday


def build_automation(settings: Settings) -> list[dg.SensorDefinition]:
    return [
        dg.AutomationConditionSensorDefinition(
            AUTOMATION_SENSOR,
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=60,
            # Some conditions are Python (SettledDay, SameDayMaterialized, StaleSwapDays),
            # evaluated in the code location.
            use_user_code_server=True,
            description=(
                "Each minute: the newest UTC day once settled (D+1 00:30 UTC; a daemon started "
                "later catches up at once), then each layer after its inputs; every materialized "
                "day whose inputs changed (stale) is re-run in dependency order; the Helius sync "
                "after a fresh gold day whose checks passed. Failed runs are not retried. "
                "Switch off: stop this sensor in the UI (Automation) or "
                f"`dagster sensor stop {AUTOMATION_SENSOR} -m smart_trader.definitions`."
            ),
        ),
        intraday_sensor(settings),
    ]
