"""`smart-trader backfill FIRST LAST`: the UI's "Materialize all…" over a range, from a shell.

It submits an asset backfill like the one the UI's dialog makes (every daily asset, the days
FIRST..LAST) to the Dagster instance of DAGSTER_HOME; the daemon's backfill loop runs it. That
loop orders the runs by the partition mappings (a day waits for every upstream day it reads),
and widens the range downstream to the days the new ones make stale (transaction_history up to
LAST + tracking_days − 1, and the silver and gold days that read those), so the lake ends as a
day-by-day run would leave it. `dagster job backfill` would instead launch every day at once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.partitions.subset import PartitionsSubset
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from smart_trader.days import days_between
from smart_trader.defs.automation import daily_assets
from smart_trader.defs.partitions import DAILY

DONE = {
    BulkActionStatus.COMPLETED_SUCCESS,
    BulkActionStatus.COMPLETED_FAILED,
    BulkActionStatus.COMPLETED,
    BulkActionStatus.FAILED,
    BulkActionStatus.CANCELED,
}


def backfill_target(
    graph: BaseAssetGraph, keys: Sequence[dg.AssetKey], days: Sequence[dt.date]
) -> AssetGraphSubset:
    """`days` of every selected asset, widened downstream along the partition mappings (capped
    at the newest day), as the UI's dialog does. Computed here, in dependency order, because
    Dagster 1.13's own widening may stop early on one output of a multi-asset (wallet_token_pnl
    got three days where wallet_pnl got four), leaving that output stale."""
    selected = set(keys)
    requested = DAILY.subset_with_partition_keys([day.isoformat() for day in days])
    subsets: dict[dg.AssetKey, PartitionsSubset] = {}
    for key in graph.toposorted_asset_keys:
        if key not in selected:
            continue
        subset = requested
        for parent in graph.get(key).parent_keys:
            if parent in subsets:
                mapping = graph.get_partition_mapping(key, parent)
                subset = subset | mapping.get_downstream_partitions_for_partitions(
                    subsets[parent], DAILY, DAILY
                )
        subsets[key] = subset
    return AssetGraphSubset(partitions_subsets_by_asset_key=subsets)  # type: ignore[call-arg]


def submit_backfill(
    instance: dg.DagsterInstance, defs: dg.Definitions, first: dt.date, last: dt.date
) -> str:
    """Submit the asset backfill of every daily asset for [first, last]; returns its id."""
    if last < first:
        raise ValueError(f"backfill: the last day {last} is before the first day {first}")
    graph = defs.resolve_asset_graph()
    keys = sorted(daily_assets().resolve(graph))
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=make_new_backfill_id(),
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        asset_graph_subset=backfill_target(graph, keys, days_between(first, last)),
        title=f"smart-trader backfill {first}..{last}",
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def wait_for_backfill(
    instance: dg.DagsterInstance,
    backfill_id: str,
    timeout_seconds: float,
    log: Callable[[str], None] = print,
) -> BulkActionStatus:
    """Poll until the backfill is over (the daemon must be running); returns its final status."""
    deadline = time.monotonic() + timeout_seconds
    status = None
    while time.monotonic() < deadline:
        backfill = instance.get_backfill(backfill_id)
        if backfill is None:
            raise ValueError(f"backfill {backfill_id} not found in this instance")
        if backfill.status != status:
            status = backfill.status
            log(f"backfill {backfill_id}: {status.value}")
        if status in DONE:
            return status
        time.sleep(2)
    raise TimeoutError(
        f"backfill {backfill_id} still {status} after {timeout_seconds:.0f} s: is "
        "`dagster-daemon run` (or `make ui`) running against this DAGSTER_HOME?"
    )
