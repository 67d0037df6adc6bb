"""DuckDB over the lake: each contract table a view named after it (`smart_wallets`), no Dagster.

These machines are offline and DuckDB's `delta` and `httpfs` extensions download themselves at
first use, so no extension is used: each Delta table is registered as deltalake's Arrow dataset
(lazy: a query reads only the files, partitions and columns it needs), and for an s3:// lake s3fs
is registered as DuckDB's filesystem, so `read_parquet('s3://...')` works too. A table not
written yet is an empty view with the contract's columns: a query valid on a full lake is valid on
a fresh one and answers zero rows instead of "table does not exist".
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from smart_trader.lake import Lake, arrow_schema
from smart_trader.schemas import ALL_TABLES, TableSpec

# Never fetch an extension: a query needing one fails at once, naming it, instead of hanging.
CONNECTION_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def view_name(spec: TableSpec) -> str:
    """The table's name in the contract: the last part of its path (gold/smart_wallets)."""
    return spec.path.rsplit("/", 1)[-1]


def connect(lake: Lake, tables: Iterable[TableSpec] = ALL_TABLES) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake's tables registered (see register_lake)."""
    con = duckdb.connect(":memory:", config=CONNECTION_CONFIG)
    register_lake(con, lake, tables)
    return con


def register_lake(
    con: duckdb.DuckDBPyConnection, lake: Lake, tables: Iterable[TableSpec] = ALL_TABLES
) -> list[str]:
    """Register `tables` (default: every contract table) as views on `con`; returns their names.

    Timestamps show in UTC, the lake's one time zone. Each view reads the table's version as of
    this call.
    """
    con.execute("SET TimeZone = 'UTC'")
    if lake.on_s3 and not con.filesystem_is_registered("s3"):
        con.register_filesystem(lake.filesystem())
    names = []
    for spec in tables:
        names.append(view_name(spec))
        con.register(names[-1], _dataset(lake, spec))
    return names


def _dataset(lake: Lake, spec: TableSpec) -> pads.Dataset | pa.Table:
    try:
        table = DeltaTable(lake.table_uri(spec), storage_options=dict(lake.storage_options) or None)
    except TableNotFoundError:
        return arrow_schema(spec).empty_table()
    return table.to_pyarrow_dataset()
