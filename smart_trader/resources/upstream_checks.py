"""Trust nothing unchecked: what an asset reads must have passed its blocking checks.

Dagster's blocking checks stop the steps below them in the same run, but a later, separate run
would read a partition whose checks failed, never ran, or ran before another writer changed it.
Before an asset computes, the partitions it reads and everything they were computed from are
walked up the asset graph (through the partition mappings); each materialized partition must:
- have its latest evaluation of every blocking check succeeded, after its latest
  materialization (a check that ran on the previous data does not vouch for this one);
- hold the data of that materialization: no Delta commit after it may have changed the day
  (a write by anything but the IO manager, which names the days it writes).
Partitions never materialized are not walked: the asset's own rules say which must exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_shared.check import CheckError

from smart_trader.lake import DAYS_WRITTEN, Lake
from smart_trader.schemas import TABLES_BY_PATH

# Delta operations that rewrite files without changing rows (upkeep).
_NO_DATA_CHANGE = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END"})


def whole_asset_graph(
    job: dg.JobDefinition, repository: Callable[[], dg.RepositoryDefinition]
) -> AssetGraph:
    """The code location's whole asset graph: a run of a selection sees only its own slice.

    The repository is known in runs launched by the daemon, webserver or CLI; a run executed in
    process (tests, the demo) has only its job, whose unselected parent job holds the graph.
    """
    try:
        return repository().asset_graph
    except CheckError:
        pass
    while job.is_subset and job._subset_selection_data is not None:
        job = job._subset_selection_data.parent_job_def
    return job.asset_layer.asset_graph


class UpstreamNotChecked(dg.Failure):
    """A partition read (or one it was computed from) is not vouched for by its checks."""

    def __init__(self, reader: str, problems: list[str]) -> None:
        shown = "; ".join(sorted(problems)[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        self.problems = f"{shown}{more}"
        super().__init__(
            f"{reader} refuses to compute: what it reads is not vouched for by its blocking "
            f"checks: {self.problems}. Repair the partition (re-materialize it with its checks) "
            "and run again."
        )


@dataclass
class UpstreamGate:
    """Walks the upstream partitions of a read once per (asset, partition)."""

    instance: dg.DagsterInstance
    asset_graph: AssetGraph
    lake: Lake
    _materialized: dict[dg.AssetKey, set[str]] = field(default_factory=dict)
    _seen: set[tuple[dg.AssetKey, str]] = field(default_factory=set)

    def verify(self, asset_key: dg.AssetKey, partition_keys: Iterable[str], reader: str) -> None:
        """Raise UpstreamNotChecked naming every bad upstream partition and its rule."""
        problems: list[str] = []
        frontier = [(asset_key, key) for key in partition_keys]
        while frontier:
            node = frontier.pop()
            if node in self._seen:
                continue
            self._seen.add(node)
            key, partition = node
            if partition not in self._materialized_partitions(key):
                continue
            problems += self._problems(key, partition)
            frontier += self._parents(key, partition)
        if problems:
            raise UpstreamNotChecked(reader, problems)

    def _materialized_partitions(self, key: dg.AssetKey) -> set[str]:
        if key not in self._materialized:
            self._materialized[key] = set(self.instance.get_materialized_partitions(key))
        return self._materialized[key]

    def _parents(self, key: dg.AssetKey, partition: str) -> list[tuple[dg.AssetKey, str]]:
        parents = []
        for parent in self.asset_graph.get(key).parent_keys:
            if not self.asset_graph.get(parent).is_partitioned:
                continue
            upstream = self.asset_graph.get_parent_partition_keys_for_child(partition, parent, key)
            parents += [(parent, k) for k in upstream.partitions_subset.get_partition_keys()]
        return parents

    def _problems(self, key: dg.AssetKey, partition: str) -> list[str]:
        name = f"{key.to_user_string()}({partition})"
        record = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        ).records[0]
        problems = []
        blocking = [
            check
            for check in self.asset_graph.get_check_keys_for_assets({key})
            if self.asset_graph.get_check_spec(check).blocking
        ]
        latest = self.instance.event_log_storage.get_latest_asset_check_execution_by_key(
            blocking, partition_filter=PartitionKeyFilter(key=partition)
        )
        for check in sorted(blocking, key=lambda c: c.name):
            evaluation = latest.get(check)
            # A record is created when its run is planned; its event is the evaluation itself.
            if evaluation is None or evaluation.event is None:
                problems.append(f"{name}: {check.name} (never ran)")
            elif evaluation.event.timestamp < record.timestamp:
                problems.append(f"{name}: {check.name} (did not run on its latest data)")
            elif evaluation.status != AssetCheckExecutionRecordStatus.SUCCEEDED:
                problems.append(f"{name}: {check.name} ({evaluation.status.value.lower()})")
        if changed := self._changed_after(key, partition, record):
            problems.append(f"{name}: {changed}")
        return problems

    def _changed_after(
        self, key: dg.AssetKey, partition: str, record: dg.EventLogRecord
    ) -> str | None:
        spec = TABLES_BY_PATH.get("/".join(key.path))
        materialization = record.asset_materialization
        version = materialization.metadata.get("delta_version") if materialization else None
        if spec is None or version is None:
            return None
        for commit in self.lake.commits_after(spec, int(version.value)):  # type: ignore[arg-type]
            if commit.get("operation") in _NO_DATA_CHANGE:
                continue
            days = str(commit.get(DAYS_WRITTEN, "")).split(",")
            if commit.get(DAYS_WRITTEN) is None or partition in days:
                return (
                    f"changed by Delta version {commit['version']} "
                    f"({commit.get('operation')}) after its materialization"
                )
        return None
