"""The code location loads: asset keys, partitions, dependencies; and the user's entry points."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from smart_trader import schemas
from smart_trader.definitions import build_definitions, defs
from smart_trader.defs.partitions import DAILY
from smart_trader.settings import Settings
from smart_trader_tests.conftest import SMALL_MARKET_ELIGIBILITY_ENV

REPO = Path(__file__).resolve().parents[1]

PARTITIONED_KEYS = {
    "bronze/token_metrics",
    "bronze/whale_holders",
    "bronze/transaction_history",
    "bronze/token_prices",
    "bronze/rejected_records",
    "silver/wallet_token_pnl",
    "silver/wallet_pnl",
    "gold/smart_wallets",
    "gold/wallet_history",
    "bronze/pick_swaps",
    "gold/pick_performance",
}

# Real-time monitoring: the receiver's tables (external) and the watched wallets intraday.
LIVE_KEYS = {"bronze/webhook_events", "bronze/live_swaps", "live/watched_positions"}


def key(path: str) -> dg.AssetKey:
    return dg.AssetKey(path.split("/"))


def test_asset_keys_and_partitions() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == PARTITIONED_KEYS | LIVE_KEYS | {"monitoring/helius_sync_log"}
    for path in PARTITIONED_KEYS | LIVE_KEYS:
        assert graph.get(key(path)).partitions_def == DAILY, path
    assert graph.get(key("monitoring/helius_sync_log")).partitions_def is None
    assert DAILY.timezone == "UTC"


def test_dependencies_and_windows() -> None:
    graph = defs.resolve_asset_graph()

    def parents(path: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(key(path)).parent_keys}

    assert parents("bronze/whale_holders") == {"bronze/token_metrics"}
    assert parents("bronze/transaction_history") == {"bronze/whale_holders"}
    assert parents("silver/wallet_pnl") == {
        "bronze/transaction_history",
        "bronze/whale_holders",
        "bronze/token_metrics",
        "bronze/token_prices",
    }
    assert parents("gold/smart_wallets") == {"silver/wallet_pnl"}
    assert parents("gold/wallet_history") == {"gold/smart_wallets"}
    assert parents("monitoring/helius_sync_log") == {"gold/smart_wallets"}

    day = "2026-03-31"
    mapped = graph.get_partition_mapping(
        key("bronze/transaction_history"), key("bronze/whale_holders")
    )
    upstream = mapped.get_upstream_mapped_partitions_result_for_partitions(
        DAILY.subset_with_partition_keys([day]), DAILY, DAILY
    ).partitions_subset.get_partition_keys()
    assert (min(upstream), max(upstream)) == ("2026-02-24", day)  # [D−35, D]
    mapped = graph.get_partition_mapping(
        key("silver/wallet_pnl"), key("bronze/transaction_history")
    )
    upstream = mapped.get_upstream_mapped_partitions_result_for_partitions(
        DAILY.subset_with_partition_keys([day]), DAILY, DAILY
    ).partitions_subset.get_partition_keys()
    assert (min(upstream), max(upstream)) == ("2026-03-02", day)  # [D−29, D]


def test_every_lake_table_has_a_blocking_schema_check() -> None:
    checks = {
        (c.asset_key.to_user_string(), c.name): c
        for definition in defs.asset_checks or []
        for c in definition.check_specs  # type: ignore[union-attr]
    }
    for path in PARTITIONED_KEYS - {"bronze/rejected_records"}:
        assert checks[(path, "schema")].blocking, path


def test_windows_follow_the_settings() -> None:
    small = build_definitions(Settings(lookback_days=10, tracking_days=3))
    graph = small.resolve_asset_graph()
    mapped = graph.get_partition_mapping(
        key("bronze/transaction_history"), key("bronze/whale_holders")
    )
    assert isinstance(mapped, dg.TimeWindowPartitionMapping)
    assert mapped.start_offset == -(10 + 3 - 2)


def _cli_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("BIRDEYE_API_KEY", "HELIUS_API_KEY")}
    env.update(
        DAGSTER_HOME=str(home),
        SMART_TRADER_LAKE_URI=str(tmp_path / "lake"),
        SMART_TRADER_TOKENS_PER_DAY="3",
        SMART_TRADER_HOLDERS_PER_TOKEN="8",
        SMART_TRADER_ELIGIBILITY=SMALL_MARKET_ELIGIBILITY_ENV,
        SMART_TRADER_SANDBOX_STATE_DIR=str(tmp_path / "sandbox"),
    )
    return env


def test_dagster_definitions_validate() -> None:
    dagster = Path(sys.executable).parent / "dagster"
    out = subprocess.run(
        [str(dagster), "definitions", "validate"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]


def _materialize_whole_day(tmp_path: Path, command: list[str]) -> None:
    """Run a CLI command that materializes every asset of D from the repo root, no earlier day."""
    day = dt.date(2026, 2, 3)
    out = subprocess.run(
        [*command, day.isoformat()],
        cwd=REPO,
        env=_cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    gold = pl.scan_delta(str(tmp_path / "lake" / schemas.SMART_WALLETS.path)).collect()
    assert gold.filter(pl.col("as_of_date") == day).height > 0


def test_dg_launch_materializes_every_asset_of_a_day_on_a_fresh_lake(tmp_path: Path) -> None:
    """`dg launch --assets '*' --partition D`: Dagster's current CLI, on the embedded default."""
    dg_cli = Path(sys.executable).parent / "dg"
    _materialize_whole_day(tmp_path, [str(dg_cli), "launch", "--assets", "*", "--partition"])


def test_cli_materializes_every_asset_of_a_day_on_a_fresh_lake(tmp_path: Path) -> None:
    """`dagster asset materialize -m smart_trader.definitions --select '*' --partition D`."""
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [dagster, "asset", "materialize", "-m", "smart_trader.definitions"]
    _materialize_whole_day(tmp_path, [*command, "--select", "*", "--partition"])


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SMART_TRADER_LOOKBACK_DAYS", "-3"), ("SMART_TRADER_LAKE_URI", "s3:/no-bucket")],
)
def test_bad_configuration_fails_at_load_naming_the_setting(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = _cli_env(tmp_path) | {variable: value}
    dagster = Path(sys.executable).parent / "dagster"
    out = subprocess.run(
        [str(dagster), "definitions", "validate"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert variable in out.stdout + out.stderr
