"""Forward performance (DATA_CONTRACT.md): the cohort rule, pick_performance from hand-built
forward swaps, and bronze/pick_swaps + gold/pick_performance on the sandbox."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from smart_trader import schemas
from smart_trader.defs.bronze.assets import PICK_SWAPS
from smart_trader.defs.gold.pick_performance import PICK_PERFORMANCE
from smart_trader.lake import Lake
from smart_trader.pnl.forward import cohort, pick_performance, tier_summary
from smart_trader.settings import USDC, EligibilityThresholds, Settings
from smart_trader_tests.pipeline import Pipeline, build_pipeline

E = dt.date(2026, 3, 14)
D = dt.date(2026, 3, 7)
TOK = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"


def _wallet(i: int) -> str:
    return f"wallet{i:02d}"


def test_cohort_is_gold_plus_the_smallest_sha256_digests_not_in_gold() -> None:
    gold = pl.DataFrame(
        {
            "wallet_address": [_wallet(3), _wallet(1), _wallet(7)],
            "tier": ["STRONG", "ELITE", "PROMISING"],
            "rank": pl.Series([2, 1, 3], dtype=pl.Int32),
        }
    )
    silver = pl.DataFrame({"wallet_address": [_wallet(i) for i in range(12)]})
    got = cohort(gold, silver, baseline_size=4)
    others = [_wallet(i) for i in range(12) if i not in (1, 3, 7)]
    expected = sorted(others, key=lambda w: hashlib.sha256(w.encode()).hexdigest())[:4]
    assert got.rows() == [
        (_wallet(1), "ELITE", 1),
        (_wallet(3), "STRONG", 2),
        (_wallet(7), "PROMISING", 3),
        *[(w, "BASELINE", None) for w in expected],
    ]
    # capped by what is there, and a baseline of 0 is gold alone
    assert cohort(gold, silver, baseline_size=100).height == 12
    assert cohort(gold, silver, baseline_size=0).height == 3


def _swap(
    wallet: str, hour: int, sold: tuple[str, float, float], bought: tuple[str, float, float]
) -> dict[str, object]:
    at = dt.datetime.combine(D + dt.timedelta(days=1), dt.time(hour), tzinfo=dt.UTC)
    return {
        "evaluated_on": E,
        "block_time": at,
        "block_number": hour,
        "tx_hash": f"tx{wallet}{hour}",
        "ins_index": 0,
        "inner_ins_index": -1,
        "wallet_address": wallet,
        "source": "raydium",
        "sold_token_address": sold[0],
        "sold_token_symbol": "S",
        "sold_amount": sold[1],
        "sold_price_usd": sold[2],
        "bought_token_address": bought[0],
        "bought_token_symbol": "B",
        "bought_amount": bought[1],
        "bought_price_usd": bought[2],
        "fetched_at": at,
        "fetch_truncated": False,
    }


def test_pick_performance_from_forward_swaps_alone() -> None:
    w, b = _wallet(1), _wallet(2)
    swaps = pl.DataFrame(
        [
            # sells 10 TOK bought before D: unmatched, no PnL
            _swap(w, 1, (TOK, 10.0, 10.0), (USDC, 100.0, 1.0)),
            _swap(w, 2, (USDC, 50.0, 1.0), (TOK, 5.0, 10.0)),  # buys 5 at 10
            _swap(w, 3, (TOK, 5.0, 16.0), (USDC, 80.0, 1.0)),  # sells them at 16: +30
            _swap(w, 4, (USDC, 20.0, 1.0), (TOK, 2.0, 10.0)),  # 2 left open at cost 20
        ],
        schema=schemas.PICK_SWAPS.schema,
    )
    members = pl.DataFrame(
        {"wallet_address": [w, b], "tier": ["ELITE", "BASELINE"], "rank": [1, None]},
        schema={"wallet_address": pl.String, "tier": pl.String, "rank": pl.Int32},
    )
    prices = pl.DataFrame({"token_address": [TOK], "price_usd": [15.0]})
    got = pick_performance(
        swaps,
        members,
        evaluated_on=E,
        picked_on=D,
        quote_assets=Settings().quote_asset_set,
        non_trade_sources=Settings().non_trade_source_set,
        api_prices=prices,
    )
    assert got.schema == schemas.PICK_PERFORMANCE.schema
    assert got.rows(named=True) == [
        {
            "evaluated_on": E,
            "picked_on": D,
            "wallet_address": w,
            "tier": "ELITE",
            "rank": 1,
            "forward_trade_count": 4,
            "forward_realized_pnl_usd": pytest.approx(30.0),
            "forward_unrealized_pnl_usd": pytest.approx(2 * 15.0 - 20.0),
            "forward_total_pnl_usd": pytest.approx(40.0),
            "forward_cost_basis_sold_usd": pytest.approx(50.0),
            "forward_roi_pct": pytest.approx(60.0),
        },
        {
            "evaluated_on": E,
            "picked_on": D,
            "wallet_address": b,
            "tier": "BASELINE",
            "rank": None,
            "forward_trade_count": 0,
            "forward_realized_pnl_usd": 0.0,
            "forward_unrealized_pnl_usd": 0.0,
            "forward_total_pnl_usd": 0.0,
            "forward_cost_basis_sold_usd": 0.0,
            "forward_roi_pct": None,
        },
    ]
    summary = {r["tier"]: r for r in tier_summary(got).iter_rows(named=True)}
    assert summary["ELITE"]["wallets"] == 1 and summary["ELITE"]["share_positive"] == 1.0
    assert summary["BASELINE"]["median_forward_total_pnl_usd"] == 0.0
    assert summary["STRONG"]["wallets"] == 0


# --- on the sandbox -----------------------------------------------------------------------------

FORWARD_DAYS = 2
FIRST = dt.date(2026, 3, 10)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(FORWARD_DAYS + 2)]  # D .. E, E + 1
SETTINGS = Settings(
    tokens_per_day=4,
    holders_per_token=12,
    max_holder_pages=3,
    helius_max_addresses=20,
    forward_days=FORWARD_DAYS,
    baseline_size=10,
    # Loose gold rules: this small, cold market slice must give gold wallets to follow.
    eligibility=EligibilityThresholds(
        min_trade_count=1,
        min_tokens_realized=1,
        min_realized_pnl_usd=-1e12,
        min_roi_pct=-1e9,
        min_win_rate_pct=0,
        min_pnl_without_best_token_usd=-1e12,
        min_total_pnl_usd=-1e12,
        max_trades_per_day=1_000_000,
        min_avg_hold_seconds=0,
        max_unpriced_trade_share=1,
        max_unmatched_sell_share=1,
        max_days_since_last_trade=365,
        max_skill_p_value=1,
        max_open_cost_share=1,
    ),
)


def _rows(pipeline: Pipeline, spec: schemas.TableSpec, day: dt.date) -> list[tuple[object, ...]]:
    frame = pipeline.lake.read_day(spec, day)
    return sorted(frame.drop("fetched_at", strict=False).rows())


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    pipeline = build_pipeline(tmp_path_factory.mktemp("forward"), SETTINGS)
    for day in DAYS:
        assert pipeline.run(day).success
    return pipeline


def test_a_day_without_gold_d_gives_empty_partitions(sandbox: Pipeline) -> None:
    for day in DAYS[:FORWARD_DAYS]:  # gold(day − forward_days) was never materialized
        assert day.isoformat() in sandbox.instance.get_materialized_partitions(PICK_SWAPS)
        assert sandbox.lake.read_day(schemas.PICK_SWAPS, day).height == 0
        assert sandbox.lake.read_day(schemas.PICK_PERFORMANCE, day).height == 0


def test_pick_swaps_are_the_cohorts_swaps_after_d(sandbox: Pipeline) -> None:
    evaluated = DAYS[FORWARD_DAYS]
    picked = DAYS[0]
    gold = sandbox.lake.read_day(schemas.SMART_WALLETS, picked)
    assert gold.height > 0, "no gold wallet on the sandbox: the test shows nothing"
    performance = sandbox.lake.read_day(schemas.PICK_PERFORMANCE, evaluated)
    members = set(performance.get_column("wallet_address"))
    assert set(gold.get_column("wallet_address")) <= members
    silver = sandbox.lake.read_day(schemas.WALLET_PNL, picked).height
    baseline = performance.filter(pl.col("tier") == "BASELINE").height
    assert baseline == min(10, silver - gold.height) > 0
    assert len(members) == gold.height + baseline
    swaps = sandbox.lake.read_day(schemas.PICK_SWAPS, evaluated)
    assert swaps.height > 0
    assert set(swaps.get_column("wallet_address")) <= members
    start = dt.datetime.combine(picked + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(evaluated + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    times = swaps.get_column("block_time")
    assert times.min() >= start and times.max() < end  # type: ignore[operator]
    # the same wallets' swaps in transaction_history of [D+1, E] that lie in the range are here
    history = (
        sandbox.lake.scan(schemas.TRANSACTION_HISTORY, DAYS[1 : FORWARD_DAYS + 1])
        .filter(
            pl.col("wallet_address").is_in(sorted(members)),
            pl.col("block_time") >= start,
            pl.col("block_time") < end,
        )
        .select(*schemas.TRANSACTION_HISTORY.key)
        .unique()
        .collect()
    )
    kept = swaps.select(*schemas.TRANSACTION_HISTORY.key)
    assert history.join(kept, on=list(schemas.TRANSACTION_HISTORY.key), how="anti").height == 0


def test_the_tier_table_is_in_the_metadata_and_the_warn_check_runs(sandbox: Pipeline) -> None:
    evaluated = DAYS[FORWARD_DAYS]
    records = sandbox.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PICK_PERFORMANCE, asset_partitions=[evaluated.isoformat()]),
        limit=1,
    ).records
    materialization = records[0].asset_materialization
    assert materialization is not None
    table = str(materialization.metadata["by_tier"].value)
    for tier in ("ELITE", "STRONG", "PROMISING", "BASELINE"):
        assert f"| {tier} |" in table
    check = dg.AssetCheckKey(PICK_PERFORMANCE, "elite_beats_baseline")
    latest = sandbox.instance.event_log_storage.get_latest_asset_check_execution_by_key([check])
    assert latest.get(check) is not None and latest[check].event is not None


def test_consecutive_days_and_a_rerun_keep_the_same_rows(sandbox: Pipeline) -> None:
    days = DAYS[FORWARD_DAYS:]
    before = {
        (spec.path, day): _rows(sandbox, spec, day)
        for spec in (schemas.PICK_SWAPS, schemas.PICK_PERFORMANCE)
        for day in days
    }
    assert all(before[(schemas.PICK_PERFORMANCE.path, day)] for day in days)
    for day in days:
        result = sandbox.run_selection(day, [PICK_SWAPS, PICK_PERFORMANCE])
        assert result.success
    after = {key: _rows(sandbox, TABLE[key[0]], key[1]) for key in before}
    assert after == before


TABLE = {spec.path: spec for spec in (schemas.PICK_SWAPS, schemas.PICK_PERFORMANCE)}


def test_rejected_rows_of_both_swap_fetches_are_kept(tmp_path: Path) -> None:
    """transaction_history(E) and pick_swaps(E) share the endpoint and day: each replaces only
    its own rejected rows."""
    lake = Lake(str(tmp_path))
    at = dt.datetime(2026, 3, 14, tzinfo=dt.UTC)

    def rows(asset: str, n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "ingest_date": [E] * n,
                "endpoint": ["/trader/txs/seek_by_time"] * n,
                "reason": ["bad"] * n,
                "raw_record": ["{}"] * n,
                "fetched_at": [at] * n,
                "asset": [asset] * n,
            },
            schema=schemas.REJECTED_RECORDS.schema,
        )

    for asset, n in [("bronze/transaction_history", 2), ("bronze/pick_swaps", 3)]:
        lake.write_partitions(
            schemas.REJECTED_RECORDS, rows(asset, n), [E], within=("asset", [asset])
        )
    lake.write_partitions(
        schemas.REJECTED_RECORDS,
        rows("bronze/pick_swaps", 1),
        [E],
        within=("asset", ["bronze/pick_swaps"]),
    )
    counts = lake.read_day(schemas.REJECTED_RECORDS, E).group_by("asset").len().sort("asset")
    assert counts.rows() == [("bronze/pick_swaps", 1), ("bronze/transaction_history", 2)]
