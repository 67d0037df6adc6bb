"""The lake's tables as DATA_CONTRACT.md declares them: path, partition column, key, exact types.

Every writer conforms its frame with `conform` and the Delta IO manager refuses any other schema,
so a column can never drift to another type silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

UTC_TIMESTAMP = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class TableSpec:
    path: str
    partition_column: str | None
    key: tuple[str, ...]
    schema: pl.Schema
    non_null: frozenset[str]

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)


def _spec(
    path: str,
    partition_column: str | None,
    key: tuple[str, ...],
    columns: list[tuple[str, pl.DataType, bool]],
) -> TableSpec:
    """columns: (name, dtype, nullable)."""
    return TableSpec(
        path=path,
        partition_column=partition_column,
        key=key,
        schema=pl.Schema([(name, dtype) for name, dtype, _ in columns]),
        non_null=frozenset(name for name, _, nullable in columns if not nullable),
    )


S, F64, I64, I32, DATE, BOOL, TS = (
    pl.String(),
    pl.Float64(),
    pl.Int64(),
    pl.Int32(),
    pl.Date(),
    pl.Boolean(),
    UTC_TIMESTAMP,
)

TOKEN_METRICS = _spec(
    "bronze/token_metrics",
    "snapshot_date",
    ("snapshot_date", "token_address"),
    [
        ("snapshot_date", DATE, False),
        ("token_address", S, False),
        ("symbol", S, False),
        ("name", S, False),
        ("decimals", I32, False),
        ("price_usd", F64, False),
        ("liquidity_usd", F64, False),
        ("market_cap_usd", F64, True),
        ("fdv_usd", F64, True),
        ("volume_1h_usd", F64, False),
        ("volume_24h_usd", F64, False),
        ("price_change_2h_pct", F64, False),
        ("price_change_24h_pct", F64, False),
        ("holder_count", I64, True),
        ("last_trade_at", TS, True),
        ("fetched_at", TS, False),
        ("data_source", S, False),
    ],
)

WHALE_HOLDERS = _spec(
    "bronze/whale_holders",
    "snapshot_date",
    ("snapshot_date", "token_address", "wallet_address"),
    [
        ("snapshot_date", DATE, False),
        ("token_address", S, False),
        ("wallet_address", S, False),
        ("rank", I32, False),
        ("ui_amount", F64, False),
        ("value_usd", F64, False),
        ("fetched_at", TS, False),
    ],
)

# fetch_truncated is our addition (the contract allows added columns): it carries
# wallet_pnl.history_truncated, set on every row of a wallet whose fetch hit max_swaps_per_fetch.
TRANSACTION_HISTORY = _spec(
    "bronze/transaction_history",
    "ingest_date",
    ("tx_hash", "ins_index", "inner_ins_index", "wallet_address"),
    [
        ("ingest_date", DATE, False),
        ("block_time", TS, False),
        ("block_number", I64, False),
        ("tx_hash", S, False),
        ("ins_index", I32, False),
        ("inner_ins_index", I32, False),
        ("wallet_address", S, False),
        ("source", S, False),
        ("sold_token_address", S, False),
        ("sold_token_symbol", S, False),
        ("sold_amount", F64, False),
        ("sold_price_usd", F64, True),
        ("bought_token_address", S, False),
        ("bought_token_symbol", S, False),
        ("bought_amount", F64, False),
        ("bought_price_usd", F64, True),
        ("fetched_at", TS, False),
        ("fetch_truncated", BOOL, False),
    ],
)

TOKEN_PRICES = _spec(
    "bronze/token_prices",
    "snapshot_date",
    ("snapshot_date", "token_address"),
    [
        ("snapshot_date", DATE, False),
        ("token_address", S, False),
        ("price_usd", F64, False),
        ("fetched_at", TS, False),
    ],
)

REJECTED_RECORDS = _spec(
    "bronze/rejected_records",
    "ingest_date",
    (),
    [
        ("ingest_date", DATE, False),
        ("endpoint", S, False),
        ("reason", S, False),
        ("raw_record", S, False),
        ("fetched_at", TS, False),
        # Our addition: the bronze asset whose fetch rejected the record, e.g.
        # bronze/transaction_history (two assets read /trader/txs/seek_by_time for one day and
        # each replaces only its own rows); null for the webhook receiver's rows and for rows
        # written before the column existed.
        ("asset", S, True),
    ],
)

WALLET_TOKEN_PNL = _spec(
    "silver/wallet_token_pnl",
    "as_of_date",
    ("as_of_date", "wallet_address", "token_address"),
    [
        ("as_of_date", DATE, False),
        ("wallet_address", S, False),
        ("token_address", S, False),
        ("buy_count", I64, False),
        ("sell_count", I64, False),
        ("bought_qty", F64, False),
        ("sold_qty", F64, False),
        ("bought_usd", F64, False),
        ("sold_usd", F64, False),
        ("matched_qty", F64, False),
        ("unmatched_sell_qty", F64, False),
        ("unmatched_sell_usd", F64, False),
        ("cost_basis_sold_usd", F64, False),
        ("realized_pnl_usd", F64, False),
        ("matched_sell_count", I64, False),
        ("winning_sell_count", I64, False),
        ("open_qty", F64, False),
        ("open_cost_usd", F64, False),
        ("mark_price_usd", F64, False),
        ("mark_source", S, False),
        ("unrealized_pnl_usd", F64, False),
        ("avg_hold_seconds", F64, True),
        ("first_trade_at", TS, False),
        ("last_trade_at", TS, False),
    ],
)

WALLET_PNL = _spec(
    "silver/wallet_pnl",
    "as_of_date",
    ("as_of_date", "wallet_address"),
    [
        ("as_of_date", DATE, False),
        ("wallet_address", S, False),
        ("swap_count", I64, False),
        ("trade_count", I64, False),
        ("unpriced_trade_count", I64, False),
        ("tokens_traded", I64, False),
        ("tokens_realized", I64, False),
        ("tokens_profitable", I64, False),
        ("skill_p_value", F64, True),
        ("open_cost_usd", F64, False),
        ("open_cost_share", F64, True),
        ("buy_count", I64, False),
        ("sell_count", I64, False),
        ("matched_sell_count", I64, False),
        ("winning_sell_count", I64, False),
        ("bought_usd", F64, False),
        ("sold_usd", F64, False),
        ("cost_basis_sold_usd", F64, False),
        ("unmatched_sell_usd", F64, False),
        ("realized_pnl_usd", F64, False),
        ("unrealized_pnl_usd", F64, False),
        ("best_token_realized_pnl_usd", F64, True),
        ("total_pnl_usd", F64, False),
        ("roi_pct", F64, True),
        ("win_rate_pct", F64, True),
        ("avg_hold_seconds", F64, True),
        ("active_days", I32, False),
        ("max_trades_per_day", I32, False),
        ("history_truncated", BOOL, False),
        ("first_trade_at", TS, False),
        ("last_trade_at", TS, False),
    ],
)

SMART_WALLETS = _spec(
    "gold/smart_wallets",
    "as_of_date",
    ("as_of_date", "wallet_address"),
    [
        ("as_of_date", DATE, False),
        ("rank", I32, False),
        ("wallet_address", S, False),
        ("tier", S, False),
        ("score", F64, False),
        ("realized_pnl_usd", F64, False),
        ("unrealized_pnl_usd", F64, False),
        ("total_pnl_usd", F64, False),
        ("roi_pct", F64, False),
        ("win_rate_pct", F64, False),
        ("trade_count", I64, False),
        ("tokens_traded", I64, False),
        ("tokens_realized", I64, False),
        ("tokens_profitable", I64, False),
        ("matched_sell_count", I64, False),
        ("winning_sell_count", I64, False),
        ("skill_p_value", F64, False),
        ("open_cost_share", F64, False),
        ("avg_hold_seconds", F64, False),
        ("last_trade_at", TS, False),
    ],
)

# Each wallet's record in gold as of D, over gold's partitions ≤ D (smart_trader.gold_history).
WALLET_HISTORY = _spec(
    "gold/wallet_history",
    "as_of_date",
    ("as_of_date", "wallet_address"),
    [
        ("as_of_date", DATE, False),
        ("wallet_address", S, False),
        ("days_in_gold", I32, False),
        ("first_gold_date", DATE, False),
        ("last_gold_date", DATE, False),
        ("best_rank", I32, False),
        ("rank", I32, True),
        ("previous_rank", I32, True),
        ("rank_change", I32, True),
    ],
)

# Forward performance (DATA_CONTRACT.md): partition E holds the cohort of D = E − forward_days.
# transaction_history's columns with evaluated_on in place of ingest_date.
PICK_SWAPS = _spec(
    "bronze/pick_swaps",
    "evaluated_on",
    ("evaluated_on", *TRANSACTION_HISTORY.key),
    [("evaluated_on", DATE, False)]
    + [
        (name, dtype, name not in TRANSACTION_HISTORY.non_null)
        for name, dtype in TRANSACTION_HISTORY.schema.items()
        if name != "ingest_date"
    ],
)

PICK_PERFORMANCE = _spec(
    "gold/pick_performance",
    "evaluated_on",
    ("evaluated_on", "wallet_address"),
    [
        ("evaluated_on", DATE, False),
        ("picked_on", DATE, False),
        ("wallet_address", S, False),
        ("tier", S, False),
        ("rank", I32, True),
        ("forward_trade_count", I64, False),
        ("forward_realized_pnl_usd", F64, False),
        ("forward_unrealized_pnl_usd", F64, False),
        ("forward_total_pnl_usd", F64, False),
        ("forward_cost_basis_sold_usd", F64, False),
        ("forward_roi_pct", F64, True),
    ],
)

HELIUS_SYNC_LOG = _spec(
    "monitoring/helius_sync_log",
    None,
    (),
    [
        ("synced_at", TS, False),
        ("as_of_date", DATE, False),
        ("webhook_id", S, True),
        ("status", S, False),
        ("address_count", I32, False),
        ("added_count", I32, False),
        ("removed_count", I32, False),
        ("addresses_sha256", S, False),
    ],
)

# Real-time monitoring (issue 14): written by the webhook receiver, by block day. Kept out of
# ALL_TABLES (the daily graph's tables): a day without deliveries has no rows.
WEBHOOK_EVENTS = _spec(
    "bronze/webhook_events",
    "block_date",
    ("signature", "wallet_address"),
    [
        ("block_date", DATE, False),
        ("signature", S, False),
        ("wallet_address", S, False),
        ("block_time", TS, False),
        ("slot", I64, False),
        ("type", S, True),
        ("source", S, True),
        ("fee_lamports", I64, True),
        ("transaction_error", S, True),
        ("swap_status", S, False),
        ("raw_item", S, False),
        ("received_at", TS, False),
    ],
)

# transaction_history's columns, partitioned by the block day instead of the ingest day.
LIVE_SWAPS = _spec(
    "bronze/live_swaps",
    "block_date",
    TRANSACTION_HISTORY.key,
    [("block_date", DATE, False)]
    + [
        (name, dtype, name not in TRANSACTION_HISTORY.non_null)
        for name, dtype in TRANSACTION_HISTORY.schema.items()
        if name != "ingest_date"
    ],
)

# The watched wallets' positions touched by live swaps, valued by silver's engine as of day D.
LIVE_POSITIONS = _spec(
    "live/watched_positions",
    "as_of_date",
    ("as_of_date", "wallet_address", "token_address"),
    [
        ("as_of_date", DATE, False),
        ("gold_date", DATE, False),
        ("rank", I32, False),
        ("wallet_address", S, False),
        ("token_address", S, False),
        ("live_trade_count", I64, False),
        ("live_bought_qty", F64, False),
        ("live_sold_qty", F64, False),
        ("open_qty_at_gold", F64, False),
        ("open_qty", F64, False),
        ("position_change", S, False),
        ("realized_pnl_usd", F64, False),
        ("unrealized_pnl_usd", F64, False),
        ("open_cost_usd", F64, False),
        ("mark_price_usd", F64, False),
        ("last_trade_at", TS, False),
        ("computed_at", TS, False),
    ],
)

ALL_TABLES: tuple[TableSpec, ...] = (
    TOKEN_METRICS,
    WHALE_HOLDERS,
    TRANSACTION_HISTORY,
    TOKEN_PRICES,
    REJECTED_RECORDS,
    WALLET_TOKEN_PNL,
    WALLET_PNL,
    SMART_WALLETS,
    WALLET_HISTORY,
    PICK_SWAPS,
    PICK_PERFORMANCE,
    HELIUS_SYNC_LOG,
)
TABLES_BY_PATH: dict[str, TableSpec] = {t.path: t for t in ALL_TABLES}


class SchemaError(ValueError):
    """A frame does not have the contract's columns and types."""


def conform(df: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Select the contract's columns in order, cast losslessly to the declared types.

    Fails naming the column when one is missing or cannot be cast without loss.
    """
    missing = [c for c in spec.schema.names() if c not in df.columns]
    if missing:
        raise SchemaError(f"{spec.path}: missing columns {missing}")
    out = []
    for name, dtype in spec.schema.items():
        col = df.get_column(name)
        if col.dtype != dtype:
            try:
                col = col.cast(dtype, strict=True)
            except Exception as exc:  # polars raises several error types for a bad cast
                raise SchemaError(
                    f"{spec.path}: column {name} is {df.schema[name]}, contract says {dtype}"
                ) from exc
        out.append(col)
    return pl.DataFrame(out)


def schema_problems(schema: pl.Schema, spec: TableSpec) -> list[str]:
    """Differences between a frame's schema and the contract (extra columns are allowed)."""
    problems = []
    for name, dtype in spec.schema.items():
        if name not in schema:
            problems.append(f"missing column {name}")
        elif schema[name] != dtype:
            problems.append(f"column {name} is {schema[name]}, contract says {dtype}")
    return problems
