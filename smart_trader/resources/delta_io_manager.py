"""Delta IO manager: asset key path -> contract table, a partition key range -> days.

A write replaces exactly the output's days (one day or a single-run range: one code path); a
read returns exactly the mapped upstream days and fails naming any that is missing, unless the
input opts in with metadata {"allow_missing_partitions": True}.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import dagster as dg
import polars as pl

from smart_trader.lake import Lake, LakeError
from smart_trader.resources.lake import LakeConfig
from smart_trader.resources.upstream_checks import UpstreamGate, whole_asset_graph
from smart_trader.schemas import TABLES_BY_PATH, TableSpec

ALLOW_MISSING = "allow_missing_partitions"


class MissingPartitionsError(LakeError):
    """An input asked for days that were never materialized."""


def table_for(key: dg.AssetKey) -> TableSpec:
    path = "/".join(key.path)
    if path not in TABLES_BY_PATH:
        raise LakeError(f"asset {path} is not a lake table (known: {sorted(TABLES_BY_PATH)})")
    return TABLES_BY_PATH[path]


def _days_by_key(partitions_def: dg.PartitionsDefinition, keys: Sequence[str]) -> dict[str, date]:
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        raise LakeError(f"lake tables need daily time partitions, not {partitions_def}")
    return {k: partitions_def.time_window_for_partition_key(k).start.date() for k in keys}


class DeltaIOManager(dg.ConfigurableIOManager, LakeConfig):
    """Stores pl.DataFrame outputs in the lake's Delta tables; loads DataFrame or LazyFrame."""

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | pl.LazyFrame) -> None:
        if not isinstance(obj, pl.DataFrame | pl.LazyFrame):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a polars frame")
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        spec, lake = table_for(context.asset_key), self.lake()
        metadata: dict[str, dg.RawMetadataValue] = {
            "dagster/uri": lake.table_uri(spec),
            "rows_written": frame.height,
        }
        if context.has_asset_partitions:
            by_key = _days_by_key(context.asset_partitions_def, context.asset_partition_keys)
            days = sorted(by_key.values())
            metadata["delta_version"] = lake.write_partitions(spec, frame, days)
            metadata["days_written"] = dg.MetadataValue.json([d.isoformat() for d in days])
            if len(days) == 1:  # a range run attaches the same metadata to each of its days
                metadata["dagster/partition_row_count"] = frame.height
        else:
            metadata["delta_version"] = lake.append(spec, frame)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame:
        spec, lake = table_for(context.asset_key), self.lake()
        if context.has_asset_partitions and spec.partition_column is not None:
            by_key = _days_by_key(context.asset_partitions_def, context.asset_partition_keys)
            present = self._present_keys(context, lake, spec, by_key)
            self._verify_upstream(context, lake, present)
            frame = lake.scan(spec, sorted(by_key[k] for k in present))
        else:
            frame = lake.scan(spec)
        return frame if context.dagster_type.typing_type is pl.LazyFrame else frame.collect()

    def _present_keys(
        self, context: dg.InputContext, lake: Lake, spec: TableSpec, by_key: dict[str, date]
    ) -> list[str]:
        """The requested partitions that exist; fails naming the missing ones unless allowed.

        With an instance, a partition exists when it has a recorded materialization (a day
        materialized with zero rows has no rows; rows committed without a materialization, as
        by a run killed between its write and its event, count as absent). Without one (a
        context built by hand), a day exists when it holds rows.
        """
        recorded = self._materialized_keys(context)
        if recorded is None:
            days = lake.days_present(spec, by_key.values())
            present = [k for k, day in by_key.items() if day in days]
        else:
            present = [k for k in by_key if k in recorded]
        missing = sorted(by_key[k] for k in set(by_key) - set(present))
        if not missing:
            return present
        names = [d.isoformat() for d in missing]
        if context.definition_metadata.get(ALLOW_MISSING):
            context.log.info(f"{spec.path}: reading without missing days {names}")
            return present
        raise MissingPartitionsError(
            f"{spec.path}: days {names} of the requested {len(by_key)} were never materialized "
            f"(set input metadata {ALLOW_MISSING}=True where a window may legitimately reach "
            "before the first materialized day)"
        )

    @staticmethod
    def _verify_upstream(context: dg.InputContext, lake: Lake, partition_keys: list[str]) -> None:
        """The partitions read, and what they were computed from, passed their blocking checks."""
        try:
            instance, step = context.instance, context.step_context
        except dg.DagsterInvariantViolationError:  # a context built without a run
            return
        graph = whole_asset_graph(step.job_def, lambda: step.repository_def)
        gate = UpstreamGate(instance, graph, lake)
        reader = step.step.key if step.step else "this step"
        gate.verify(context.asset_key, partition_keys, reader)

    @staticmethod
    def _materialized_keys(context: dg.InputContext) -> set[str] | None:
        try:
            instance = context.instance
        except dg.DagsterInvariantViolationError:  # a context built without an instance
            return None
        return set(instance.get_materialized_partitions(context.asset_key))
