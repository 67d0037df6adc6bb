"""Helpers shared by the assets: which days the instance has materialized, metadata previews.

Rows alone cannot tell a day materialized with zero rows from a day never materialized, so the
rules that depend on "was P materialized" ask the instance.
"""

import datetime as dt
from collections.abc import Iterable

import dagster as dg
import polars as pl


def materialized_days(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, days: Iterable[dt.date]
) -> set[dt.date]:
    done = instance.get_materialized_partitions(asset_key)
    return {day for day in days if day.isoformat() in done}


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def markdown_table(frame: pl.DataFrame) -> str:
    """A small frame as a markdown table, for materialization metadata previews."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * frame.width
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])
