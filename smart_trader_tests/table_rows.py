"""Hand-built rows of any contract table: the columns a test cares about, fillers for the rest."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from smart_trader.days import day_start
from smart_trader.schemas import TableSpec

_FILLERS: dict[type[pl.DataType], Any] = {
    pl.String: "x",
    pl.Float64: 1.0,
    pl.Int64: 1,
    pl.Int32: 1,
    pl.Boolean: False,
}


def table_rows(spec: TableSpec, day: dt.date, columns: dict[str, list[Any]]) -> pl.DataFrame:
    """Rows of `spec` for `day` (its partition column): `columns` as given, every other column
    one non-null filler of its type (a date is `day`, a timestamp the start of `day`)."""
    height = len(next(iter(columns.values())))
    given = pl.DataFrame(columns, schema={name: spec.schema[name] for name in columns})

    def filler(dtype: pl.DataType) -> Any:
        if dtype == pl.Date():
            return day
        if isinstance(dtype, pl.Datetime):
            return day_start(day)
        return _FILLERS[dtype.base_type()]

    return given.with_columns(
        pl.repeat(filler(dtype), height, dtype=dtype).alias(name)
        for name, dtype in spec.schema.items()
        if name not in columns
    ).select(spec.schema.names())
