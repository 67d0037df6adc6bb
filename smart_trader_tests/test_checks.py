"""Every asset check passes on a valid lake and fails, naming the rows, on data that breaks it.

A valid lake for day D comes from one run of the real graph on the sandbox (module fixture).
Each failing case copies that lake, breaks exactly one rule in one table and runs only the
targeted check, for D, in a job of its own.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from deltalake import write_deltalake

from smart_trader import schemas
from smart_trader.days import day_start
from smart_trader.defs.bronze.assets import (
    ENDPOINTS,
    TOKEN_METRICS,
    TRANSACTION_HISTORY,
    WHALE_HOLDERS,
    count_metadata_key,
)
from smart_trader.defs.monitoring.assets import HELIUS_SYNC_LOG
from smart_trader.lake import Lake
from smart_trader.settings import NATIVE_SOL, USDC, Settings
from smart_trader_tests.conftest import SMALL_MARKET_ELIGIBILITY
from smart_trader_tests.pipeline import Pipeline, build_pipeline

D = dt.date(2026, 3, 14)
SETTINGS = Settings.model_validate(
    {
        "eligibility": SMALL_MARKET_ELIGIBILITY,
        "tokens_per_day": 4,
        "holders_per_token": 12,
        "max_holder_pages": 3,
        "helius_max_addresses": 20,
    }
)
# a valid address that is nobody's wallet or token in the sandbox market
STRANGER = "Stranger1111111111111111111111111111111111"
# Forward performance of D judges gold(D − forward_days), which this one-day lake has not: its
# partitions are empty, so the row-corrupting cases cannot apply to them.
SPEC_OF_PATH = {
    path: spec
    for path, spec in schemas.TABLES_BY_PATH.items()
    if spec.partition_column and spec not in (schemas.PICK_SWAPS, schemas.PICK_PERFORMANCE)
}


@dataclass
class Evaluation:
    passed: bool
    severity: dg.AssetCheckSeverity
    description: str
    violations: int
    examples: str


def evaluation(event: dg.AssetCheckEvaluation) -> Evaluation:
    return Evaluation(
        passed=event.passed,
        severity=event.severity,
        description=event.description or "",
        violations=int(event.metadata["violations"].value),  # type: ignore[arg-type]
        examples=str(event.metadata["examples"].value),
    )


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pipeline, dg.ExecuteInProcessResult]:
    pipeline = build_pipeline(tmp_path_factory.mktemp("valid"), SETTINGS)
    result = pipeline.run(D)
    assert result.success
    return pipeline, result


@pytest.fixture
def copy(valid: tuple[Pipeline, dg.ExecuteInProcessResult], tmp_path: Path) -> Pipeline:
    """A copy of the valid lake (same instance), to break."""
    pipeline, _ = valid
    shutil.copytree(pipeline.lake.root, tmp_path / "lake")
    return build_pipeline(tmp_path, SETTINGS, instance=pipeline.instance)


def run_check(pipeline: Pipeline, asset: str, name: str, partitioned: bool = True) -> Evaluation:
    key = dg.AssetCheckKey(dg.AssetKey.from_user_string(asset), name)
    job = dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(key))
    defs = dg.Definitions.merge(pipeline.defs, dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def("one_check").execute_in_process(
        instance=pipeline.instance,
        tags={"dagster/partition": D.isoformat()} if partitioned else None,
        raise_on_error=False,
    )
    events = result.get_asset_check_evaluations()
    assert [e.asset_check_key for e in events] == [key]
    return evaluation(events[0])


def rewrite(
    lake: Lake, spec: schemas.TableSpec, edit: Callable[[pl.DataFrame], pl.DataFrame]
) -> None:
    """Replace day D of a table with an edited copy, through the lake (contract types kept)."""
    lake.write_partitions(spec, edit(lake.read_day(spec, D)), [D])


def overwrite_raw(lake: Lake, spec: schemas.TableSpec, frame: pl.DataFrame) -> None:
    """Replace the whole table bypassing the lake's schema guard (how a foreign writer could)."""
    write_deltalake(
        lake.table_uri(spec), frame.to_arrow(), mode="overwrite", schema_mode="overwrite"
    )


def set_first(column: str, value: object) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """Set `column` on the first row (in key order) to `value`."""

    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        ordered = frame.sort(frame.columns[1:3])
        dtype = ordered.schema[column]
        return ordered.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit(value).cast(dtype))
            .otherwise(pl.col(column))
            .alias(column)
        )

    return edit


def first_row(frame: pl.DataFrame) -> dict[str, Any]:
    return frame.sort(frame.columns[1:3]).row(0, named=True)


# --- passing: the valid lake, every check of the code location ---------------------------------


def test_the_valid_lake_passes_every_check(
    valid: tuple[Pipeline, dg.ExecuteInProcessResult],
) -> None:
    pipeline, result = valid
    expected = {
        spec.key
        for definition in pipeline.defs.asset_checks or []
        for spec in definition.check_specs  # type: ignore[union-attr]
    }
    events = {e.asset_check_key: evaluation(e) for e in result.get_asset_check_evaluations()}
    assert set(events) == expected
    failed = {k.to_user_string(): e.description for k, e in events.items() if not e.passed}
    assert failed == {}
    assert all(e.violations == 0 and e.examples == "none" for e in events.values())
    # the gold rules below need several ranked wallets to be meaningful
    assert pipeline.lake.read_day(schemas.SMART_WALLETS, D).height >= 3


# --- schema ------------------------------------------------------------------------------------


@pytest.mark.parametrize("asset", sorted(SPEC_OF_PATH))
def test_schema_fails_on_a_null_in_a_non_null_column(copy: Pipeline, asset: str) -> None:
    spec = SPEC_OF_PATH[asset]
    column = sorted(spec.non_null - {spec.partition_column})[0]
    frame = copy.lake.scan(spec).collect()
    if frame.height == 0:  # rejected_records of a clean day: give it one row
        frame = pl.DataFrame(
            [
                {
                    "ingest_date": D,
                    "endpoint": "/defi/multi_price",
                    "reason": "r",
                    "raw_record": "{}",
                    "fetched_at": day_start(D),
                }
            ],
            schema=spec.schema,
        )
    overwrite_raw(
        copy.lake,
        spec,
        frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col(column)).alias(column)
        ),
    )
    result = run_check(copy, asset, "schema")
    assert not result.passed
    assert result.violations == 1
    assert f"| {column} | 1 null values |" in result.examples
    assert result.description.startswith("schema FAILED: 1 violation(s)")


def test_schema_fails_on_a_column_of_another_type(copy: Pipeline) -> None:
    spec = schemas.TOKEN_PRICES
    frame = copy.lake.scan(spec).collect().with_columns(pl.col("price_usd").cast(pl.String))
    overwrite_raw(copy.lake, spec, frame)
    result = run_check(copy, "bronze/token_prices", "schema")
    assert (result.passed, result.violations) == (False, 1)
    assert "| price_usd | is String, contract says Float64 |" in result.examples
    # a rule that cannot even be applied to such a table fails too, with the error as its row
    prices = run_check(copy, "bronze/token_prices", "valid_prices")
    assert (prices.passed, prices.violations) == (False, 1)
    assert prices.examples.startswith("| error |")


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "asset",
    sorted(p for p, s in SPEC_OF_PATH.items() if s.key and s is not schemas.TRANSACTION_HISTORY),
)
def test_unique_key_fails_on_a_repeated_key(copy: Pipeline, asset: str) -> None:
    spec = SPEC_OF_PATH[asset]
    rewrite(copy.lake, spec, lambda f: pl.concat([f, f.sort(list(spec.key)).head(1)]))
    result = run_check(copy, asset, "unique_key")
    assert (result.passed, result.violations) == (False, 1)
    repeated = copy.lake.read_day(spec, D).sort(list(spec.key)).row(0, named=True)
    assert str(repeated[spec.key[-1]]) in result.examples
    assert "| 2 |" in result.examples  # occurrences


def test_transaction_history_key_in_another_partition_is_one_swap(copy: Pipeline) -> None:
    """The contract changed: the key is unique within a partition; a key also held by another
    partition (days run out of order) is one swap, which silver reads once."""
    spec = schemas.TRANSACTION_HISTORY
    swaps = copy.lake.read_day(spec, D).sort(list(spec.key))
    earlier = D - dt.timedelta(days=1)
    copy.lake.write_partitions(
        spec, swaps.head(2).with_columns(ingest_date=pl.lit(earlier)), [earlier]
    )
    result = run_check(copy, "bronze/transaction_history", "unique_key")
    assert (result.passed, result.violations) == (True, 0)


def test_transaction_history_key_repeated_within_the_day(copy: Pipeline) -> None:
    spec = schemas.TRANSACTION_HISTORY
    rewrite(copy.lake, spec, lambda f: pl.concat([f, f.sort(list(spec.key)).head(1)]))
    result = run_check(copy, "bronze/transaction_history", "unique_key")
    assert (result.passed, result.violations) == (False, 1)
    assert f"2 rows in {D}" in result.examples


# --- one rule per case: (asset, check, edit of the copy, expected count, text in the examples) ---

Edit = Callable[[Lake], str]


def _untracked_wallet(spec: schemas.TableSpec) -> Edit:
    def edit(lake: Lake) -> str:
        rewrite(lake, spec, set_first("wallet_address", STRANGER))
        return STRANGER

    return edit


def _value(spec: schemas.TableSpec, column: str, value: object, shown: str | None = None) -> Edit:
    """Set one row's column; the examples must show the row's first key value (or `shown`)."""

    def edit(lake: Lake) -> str:
        row = first_row(lake.read_day(spec, D))
        rewrite(lake, spec, set_first(column, value))
        return (
            shown
            if shown is not None
            else str(row[spec.key[1] if len(spec.key) > 1 else spec.key[0]])
        )

    return edit


def _holder_of_unknown_token(lake: Lake) -> str:
    rewrite(lake, schemas.WHALE_HOLDERS, set_first("token_address", STRANGER))
    return STRANGER


def _swap_at_next_midnight(lake: Lake) -> str:
    rewrite(
        lake,
        schemas.TRANSACTION_HISTORY,
        set_first("block_time", day_start(D + dt.timedelta(days=1))),
    )
    return "block_time at or after 2026-03-15T00:00:00+00:00"


def _swap_before_the_range(lake: Lake) -> str:
    """The lake holds one day of holders, so every wallet's range starts at D - 29."""
    rewrite(
        lake,
        schemas.TRANSACTION_HISTORY,
        set_first("block_time", day_start(D - dt.timedelta(days=SETTINGS.lookback_days))),
    )
    return "block_time before the wallet's range start s_W(D)"


def _native_sol_leg(lake: Lake) -> str:
    rewrite(lake, schemas.TRANSACTION_HISTORY, set_first("sold_token_address", NATIVE_SOL))
    return "native SOL pseudo-mint not stored as wSOL"


def _same_token_both_legs(lake: Lake) -> str:
    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        row = first_row(frame)
        return set_first("bought_token_address", row["sold_token_address"])(frame)

    rewrite(lake, schemas.TRANSACTION_HISTORY, edit)
    return "same token on both legs"


def _transaction_in_two_blocks(lake: Lake) -> str:
    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        row = first_row(frame)
        later = frame.filter(
            (pl.col("wallet_address") == row["wallet_address"])
            & (pl.col("block_time") != row["block_time"])
        ).row(0, named=True)
        # Its own ins_index keeps the table's key unique.
        return set_first("tx_hash", later["tx_hash"])(set_first("ins_index", 999)(frame))

    rewrite(lake, schemas.TRANSACTION_HISTORY, edit)
    return "one transaction's swaps in more than one block"


def _fifo_broken(lake: Lake) -> str:
    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        row = first_row(frame)
        return set_first("matched_qty", float(row["matched_qty"]) + float(row["sold_qty"]) + 1.0)(
            frame
        )

    rewrite(lake, schemas.WALLET_TOKEN_PNL, edit)
    return "matched_plus_unmatched_is_sold"


def _counts_unordered(lake: Lake) -> str:
    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        row = first_row(frame)
        return set_first("winning_sell_count", int(row["matched_sell_count"]) + 1)(frame)

    rewrite(lake, schemas.WALLET_TOKEN_PNL, edit)
    return "winning_le_matched"


def _quote_asset_row(lake: Lake) -> str:
    rewrite(lake, schemas.WALLET_TOKEN_PNL, set_first("token_address", USDC))
    return USDC


def _wallet_pnl_not_reconciling(lake: Lake) -> str:
    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        return set_first("buy_count", int(first_row(frame)["buy_count"]) + 1)(frame)

    rewrite(lake, schemas.WALLET_PNL, edit)
    return "buy_count"


def _total_not_realized_plus_unrealized(lake: Lake) -> str:
    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        return set_first("total_pnl_usd", float(first_row(frame)["total_pnl_usd"]) + 50.0)(frame)

    rewrite(lake, schemas.WALLET_PNL, edit)
    return "total_pnl_usd != realized + unrealized"


def _gold_wallet(lake: Lake, rank: int = 1) -> str:
    gold = lake.read_day(schemas.SMART_WALLETS, D)
    return str(gold.filter(pl.col("rank") == rank).get_column("wallet_address")[0])


def _edit_silver_of_gold_wallet(column: str, value: object) -> Edit:
    def edit(lake: Lake) -> str:
        wallet = _gold_wallet(lake)
        rewrite(
            lake,
            schemas.WALLET_PNL,
            lambda f: f.with_columns(
                pl.when(pl.col("wallet_address") == wallet)
                .then(pl.lit(value).cast(f.schema[column]))
                .otherwise(pl.col(column))
                .alias(column)
            ),
        )
        return wallet

    return edit


def _gold_wallet_not_in_silver(lake: Lake) -> str:
    wallet = _gold_wallet(lake)
    rewrite(lake, schemas.WALLET_PNL, lambda f: f.filter(pl.col("wallet_address") != wallet))
    return wallet


def _edit_gold(column: str, value: Callable[[pl.Expr], pl.Expr], rank: int = 1) -> Edit:
    def edit(lake: Lake) -> str:
        wallet = _gold_wallet(lake, rank)
        rewrite(
            lake,
            schemas.SMART_WALLETS,
            lambda f: f.with_columns(
                pl.when(pl.col("rank") == rank)
                .then(value(pl.col(column)).cast(f.schema[column]))
                .otherwise(pl.col(column))
                .alias(column)
            ),
        )
        return wallet

    return edit


def _ranks_swapped(lake: Lake) -> str:
    rewrite(
        lake,
        schemas.SMART_WALLETS,
        lambda f: f.with_columns(
            rank=pl.when(pl.col("rank") <= 2).then(3 - pl.col("rank")).otherwise(pl.col("rank"))
        ),
    )
    return _gold_wallet(lake, 1)


def _rank_gap(lake: Lake) -> str:
    last = lake.read_day(schemas.SMART_WALLETS, D).height
    wallet = _gold_wallet(lake, last)
    rewrite(
        lake,
        schemas.SMART_WALLETS,
        lambda f: f.with_columns(
            rank=pl.when(pl.col("rank") == last).then(last + 1).otherwise(pl.col("rank"))
        ),
    )
    return f"| {wallet} | {last + 1} | {last} |"


def _eligible_wallet_dropped(lake: Lake) -> str:
    wallet = _gold_wallet(lake, 2)
    rewrite(lake, schemas.SMART_WALLETS, lambda f: f.filter(pl.col("wallet_address") != wallet))
    return wallet


def _tier_wrong(lake: Lake) -> str:
    gold = lake.read_day(schemas.SMART_WALLETS, D)
    row = gold.filter(pl.col("rank") == 1).row(0, named=True)
    other = "PROMISING" if row["tier"] != "PROMISING" else "ELITE"
    _edit_gold("tier", lambda _: pl.lit(other))(lake)
    return f"| {row['wallet_address']} | {other} | {row['tier']} |"


def _token_dropped(lake: Lake) -> str:
    rewrite(lake, schemas.TOKEN_METRICS, lambda f: f.sort("token_address").tail(f.height - 1))
    return f"| {SETTINGS.tokens_per_day - 1} | {SETTINGS.tokens_per_day} |"


def _holder_ranks_swapped(lake: Lake) -> str:
    holders = lake.read_day(schemas.WHALE_HOLDERS, D)
    token = holders.sort("token_address").get_column("token_address")[0]
    rewrite(
        lake,
        schemas.WHALE_HOLDERS,
        lambda f: f.with_columns(
            rank=pl.when((pl.col("token_address") == token) & (pl.col("rank") <= 2))
            .then(3 - pl.col("rank"))
            .otherwise(pl.col("rank"))
        ),
    )
    return token


TH, TM, WH, TP = (
    "bronze/transaction_history",
    "bronze/token_metrics",
    "bronze/whale_holders",
    "bronze/token_prices",
)
WTP, WP, GOLD = "silver/wallet_token_pnl", "silver/wallet_pnl", "gold/smart_wallets"

CASES: list[tuple[str, str, Edit, int, bool]] = [
    # (asset, check, edit, violations, blocking)
    (TM, "valid_prices", _value(schemas.TOKEN_METRICS, "price_usd", 0.0), 1, True),
    (
        TM,
        "passes_filters",
        _value(schemas.TOKEN_METRICS, "liquidity_usd", 9e6, "liquidity_usd outside"),
        1,
        False,
    ),
    (TM, "full_top_list", _token_dropped, 1, False),
    (WH, "tokens_in_token_metrics", _holder_of_unknown_token, 1, True),
    (WH, "valid_amounts", _value(schemas.WHALE_HOLDERS, "ui_amount", -5.0, "ui_amount"), 1, True),
    (WH, "holder_ranks", _holder_ranks_swapped, 2, False),
    (TH, "wallets_tracked", _untracked_wallet(schemas.TRANSACTION_HISTORY), 1, True),
    (TH, "block_time_in_fetch_range", _swap_at_next_midnight, 1, True),
    (
        TH,
        "valid_amounts_and_prices",
        _value(schemas.TRANSACTION_HISTORY, "sold_amount", 0.0, "sold_amount"),
        1,
        True,
    ),
    (
        TH,
        "valid_amounts_and_prices",
        _value(schemas.TRANSACTION_HISTORY, "bought_price_usd", -1.0, "bought_price_usd"),
        1,
        True,
    ),
    (TH, "block_time_in_fetch_range", _swap_before_the_range, 1, True),
    (TH, "legs_well_formed", _same_token_both_legs, 1, True),
    (TH, "legs_well_formed", _native_sol_leg, 1, True),
    (TH, "one_block_per_transaction", _transaction_in_two_blocks, 1, True),
    (TP, "valid_prices", _value(schemas.TOKEN_PRICES, "price_usd", float("nan")), 1, True),
    (WTP, "wallets_tracked", _untracked_wallet(schemas.WALLET_TOKEN_PNL), 1, True),
    (WTP, "fifo_invariants", _fifo_broken, 2, True),
    (WTP, "fifo_invariants", _counts_unordered, 1, True),
    (WTP, "no_quote_assets", _quote_asset_row, 1, True),
    (
        WTP,
        "valid_marks",
        _value(schemas.WALLET_TOKEN_PNL, "mark_source", "guess", "mark_source not one of"),
        1,
        True,
    ),
    (WP, "wallets_tracked", _untracked_wallet(schemas.WALLET_PNL), 1, True),
    (WP, "reconciles_with_tokens", _wallet_pnl_not_reconciling, 1, True),
    (WP, "derived_metrics", _total_not_realized_plus_unrealized, 1, True),
    (GOLD, "wallets_in_silver", _gold_wallet_not_in_silver, 1, True),
    (GOLD, "matches_silver", _edit_gold("realized_pnl_usd", lambda c: c + 1.0), 1, True),
    (GOLD, "eligibility", _edit_silver_of_gold_wallet("trade_count", 2), 1, True),
    (GOLD, "bot_filter", _edit_silver_of_gold_wallet("max_trades_per_day", 500), 1, True),
    (GOLD, "tier", _tier_wrong, 1, True),
    (GOLD, "score", _edit_gold("score", lambda c: c + 0.5), 1, True),
    (GOLD, "rank_order", _ranks_swapped, 2, True),
    (GOLD, "rank_order", _rank_gap, 1, True),
    (GOLD, "eligible_wallets_ranked", _eligible_wallet_dropped, 1, False),
]


@pytest.mark.parametrize(
    ("asset", "check", "edit", "violations", "blocking"),
    CASES,
    ids=[f"{asset}:{check}:{i}" for i, (asset, check, *_) in enumerate(CASES)],
)
def test_check_fails_on_data_breaking_its_rule(
    copy: Pipeline, asset: str, check: str, edit: Edit, violations: int, blocking: bool
) -> None:
    shown = edit(copy.lake)
    result = run_check(copy, asset, check)
    assert not result.passed
    assert result.severity == (
        dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    )
    assert result.violations == violations, result.examples
    assert shown in result.examples
    assert result.description.startswith(f"{check} FAILED: {violations} violation(s)")


# --- checks that read the instance ---------------------------------------------------------------


def test_window_fetched_fails_when_a_day_has_holders_but_no_swaps(copy: Pipeline) -> None:
    fresh = build_pipeline(
        Path(copy.lake.root).parent, SETTINGS, instance=dg.DagsterInstance.ephemeral()
    )
    missed = D - dt.timedelta(days=3)
    for day, key in [(missed, WHALE_HOLDERS), (D, WHALE_HOLDERS), (D, TRANSACTION_HISTORY)]:
        fresh.instance.report_runless_asset_event(
            dg.AssetMaterialization(key, partition=day.isoformat())
        )
    result = run_check(fresh, WP, "window_fetched")
    assert (result.passed, result.violations) == (False, 1)
    assert str(missed) in result.examples


def _report_bronze(instance: dg.DagsterInstance, key: dg.AssetKey, counts: dict[str, int]) -> None:
    (endpoint,) = ENDPOINTS[key]
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            key,
            partition=D.isoformat(),
            metadata={count_metadata_key(endpoint, term): n for term, n in counts.items()},
        )
    )


def test_accounting_passes_when_every_record_is_accounted_for(copy: Pipeline) -> None:
    fresh = build_pipeline(
        Path(copy.lake.root).parent, SETTINGS, instance=dg.DagsterInstance.ephemeral()
    )
    _report_bronze(
        fresh.instance,
        TOKEN_METRICS,
        {"received": 10, "stored": 4, "rejected": 0, "filtered": 5, "merged": 0, "duplicate": 1},
    )
    assert run_check(fresh, "bronze/rejected_records", "accounting").passed


def test_accounting_fails_when_the_terms_do_not_add_up(copy: Pipeline) -> None:
    fresh = build_pipeline(
        Path(copy.lake.root).parent, SETTINGS, instance=dg.DagsterInstance.ephemeral()
    )
    _report_bronze(
        fresh.instance,
        TOKEN_METRICS,
        {"received": 10, "stored": 4, "rejected": 0, "filtered": 5, "merged": 0, "duplicate": 0},
    )
    _report_bronze(
        fresh.instance,
        TRANSACTION_HISTORY,
        {"received": 3, "stored": 1, "rejected": 2, "filtered": 0, "merged": 0, "duplicate": 0},
    )
    result = run_check(fresh, "bronze/rejected_records", "accounting")
    assert (result.passed, result.violations) == (False, 2)
    assert (
        "received 10 != stored 4 + rejected 0 + filtered 5 + merged 0 + duplicate 0 = 9"
        in result.examples
    )
    assert "rejected 2 in the metadata but 0 rows in rejected_records" in result.examples


# --- the unpartitioned audit table --------------------------------------------------------------


def test_sync_log_check_flags_an_unknown_status(copy: Pipeline) -> None:
    log = copy.lake.scan(schemas.HELIUS_SYNC_LOG).collect()
    assert run_check(
        copy, HELIUS_SYNC_LOG.to_user_string(), "schema_and_statuses", partitioned=False
    ).passed
    copy.lake.append(schemas.HELIUS_SYNC_LOG, log.head(1).with_columns(status=pl.lit("maybe")))
    result = run_check(
        copy, HELIUS_SYNC_LOG.to_user_string(), "schema_and_statuses", partitioned=False
    )
    assert (result.passed, result.severity, result.violations) == (
        False,
        dg.AssetCheckSeverity.WARN,
        1,
    )
    assert "unknown status maybe" in result.examples
