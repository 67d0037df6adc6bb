"""gold/wallet_history: hand-built gold days in, exact history rows out (SQL and the asset)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from smart_trader import gold_history, schemas
from smart_trader.defs.gold.history import WALLET_HISTORY
from smart_trader.lake import Lake
from smart_trader.lake_sql import connect
from smart_trader.settings import Settings
from smart_trader_tests.pipeline import build_pipeline
from smart_trader_tests.table_rows import table_rows

D1 = dt.date(2026, 3, 10)
D2 = D1 + dt.timedelta(days=1)
D3 = D1 + dt.timedelta(days=2)
D4 = D1 + dt.timedelta(days=3)
A, B, C = "WalletA", "WalletB", "WalletC"
# A is ranked, leaves on D2, re-enters on D3; B climbs then falls; C enters on D2 and holds.
# D4 is after every day asked for: it must change nothing.
GOLD = {
    D1: [(A, 1), (B, 2)],
    D2: [(B, 1), (C, 2)],
    D3: [(A, 1), (C, 2), (B, 3)],
    D4: [(A, 5), (B, 6)],
}
# (wallet, days_in_gold, first, last, best_rank, rank, previous_rank, rank_change)
Row = tuple[str, int, dt.date, dt.date, int, int | None, int | None, int | None]
EXPECTED: dict[dt.date, list[Row]] = {
    D1: [(A, 1, D1, D1, 1, 1, None, None), (B, 1, D1, D1, 2, 2, None, None)],
    D2: [
        (B, 2, D1, D2, 1, 1, 2, 1),
        (C, 1, D2, D2, 2, 2, None, None),
        (A, 1, D1, D1, 1, None, 1, None),
    ],
    D3: [
        (A, 2, D1, D3, 1, 1, None, None),
        (C, 2, D2, D3, 2, 2, 2, 0),
        (B, 3, D1, D3, 1, 3, 1, -2),
    ],
}


def gold_day(day: dt.date, ranks: list[tuple[str, int]]) -> pl.DataFrame:
    """A gold partition of these (wallet, rank)."""
    wallets, numbers = [w for w, _ in ranks], [r for _, r in ranks]
    return table_rows(schemas.SMART_WALLETS, day, {"wallet_address": wallets, "rank": numbers})


def expected(day: dt.date) -> pl.DataFrame:
    names = [n for n in schemas.WALLET_HISTORY.schema.names() if n != "as_of_date"]
    rows = [{"as_of_date": day, **dict(zip(names, row, strict=True))} for row in EXPECTED[day]]
    return pl.DataFrame(rows, schema=schemas.WALLET_HISTORY.schema)


def write_gold(lake: Lake) -> None:
    for day, ranks in GOLD.items():
        lake.write_partitions(schemas.SMART_WALLETS, gold_day(day, ranks), [day])


@pytest.mark.parametrize("day", sorted(EXPECTED))
def test_history_rows_are_exact(tmp_path: Path, day: dt.date) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_gold(lake)
    history = gold_history.wallet_history(connect(lake, [schemas.SMART_WALLETS]), day)
    assert history.equals(expected(day)), history
    assert gold_history.span_violations(history, day).is_empty()
    assert gold_history.rank_violations(history).is_empty()
    assert gold_history.gold_mismatches(history, gold_day(day, GOLD[day])).is_empty()


def test_the_asset_writes_the_history_and_its_checks_pass(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path, Settings())
    write_gold(pipeline.lake)
    result = pipeline.run_selection(D3, [WALLET_HISTORY])
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "schema": True,
        "unique_key": True,
        "days_in_gold": True,
        "ranks": True,
        "matches_gold": True,
    }
    stored = pipeline.lake.read_day(schemas.WALLET_HISTORY, D3)
    assert stored.sort("wallet_address").equals(expected(D3).sort("wallet_address"))
    metadata = result.asset_materializations_for_node("gold__wallet_history")[0].metadata
    counts = {k: metadata[k].value for k in ("wallets", "ranked", "entered", "left")}
    assert counts == {"wallets": 3, "ranked": 3, "entered": 1, "left": 0}


def test_the_rules_find_broken_rows() -> None:
    good = expected(D3)
    broken = pl.concat(
        [
            good,
            good.head(1).with_columns(  # last day after D, and more days than its span
                wallet_address=pl.lit("Late"),
                last_gold_date=pl.lit(D4),
                days_in_gold=pl.lit(9, pl.Int32),
            ),
            good.slice(2, 1).with_columns(  # rank_change with the wrong sign
                wallet_address=pl.lit("Sign"), rank_change=pl.lit(2, pl.Int32)
            ),
        ]
    )
    late = gold_history.span_violations(broken, D3)
    assert late.get_column("wallet_address").to_list() == ["Late"]
    # "Late" is ranked on D yet its last day is not D; "Sign" breaks the formula
    ranks = gold_history.rank_violations(broken).get_column("wallet_address").to_list()
    assert ranks == ["Late", "Sign"]
    mismatches = gold_history.gold_mismatches(good, gold_day(D3, [(A, 1), (C, 3)]))
    assert mismatches.sort("wallet_address").rows() == [(B, 3, None), (C, 2, 3)]


def test_matches_gold_fails_when_gold_changes_after_the_history(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path, Settings())
    write_gold(pipeline.lake)
    assert pipeline.run_selection(D3, [WALLET_HISTORY]).success
    pipeline.lake.write_partitions(
        schemas.SMART_WALLETS, gold_day(D3, [(C, 1), (A, 2), (B, 3)]), [D3]
    )
    key = dg.AssetCheckKey(WALLET_HISTORY, "matches_gold")
    job = dg.define_asset_job("matches_gold", selection=dg.AssetSelection.checks(key))
    defs = dg.Definitions.merge(pipeline.defs, dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def("matches_gold").execute_in_process(
        instance=pipeline.instance,
        tags={"dagster/partition": D3.isoformat()},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["violations"].value == 2
