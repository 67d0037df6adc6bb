"""`smart-trader sql`: the lake's tables as DuckDB views, on a local and on an S3 lake, offline."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from smart_trader import cli, schemas
from smart_trader.lake import Lake
from smart_trader_tests.fixtures_s3 import LakeLocation, S3Server
from smart_trader_tests.table_rows import table_rows

D = dt.date(2026, 3, 14)
BEFORE = D - dt.timedelta(days=1)
WALLETS = ["W1", "W2", "W3", "W4"]
JOIN = f"""
SELECT g.rank, g.wallet_address, p.swap_count, p.realized_pnl_usd
FROM smart_wallets AS g
JOIN wallet_pnl AS p USING (as_of_date, wallet_address)
WHERE g.as_of_date = DATE '{D}'
ORDER BY g.rank
"""


def write_silver_and_gold(lake: Lake) -> None:
    """wallet_pnl of D − 1 and D (other values on each day), gold of D: W4, W2 ranked."""
    for day, offset in ((BEFORE, 100), (D, 0)):
        silver = table_rows(
            schemas.WALLET_PNL,
            day,
            {
                "wallet_address": WALLETS,
                "swap_count": [offset + n for n in (11, 12, 13, 14)],
                "realized_pnl_usd": [offset + p for p in (10.5, 20.25, -3.0, 40.125)],
            },
        )
        lake.write_partitions(schemas.WALLET_PNL, silver, [day])
    gold = table_rows(schemas.SMART_WALLETS, D, {"wallet_address": ["W4", "W2"], "rank": [1, 2]})
    lake.write_partitions(schemas.SMART_WALLETS, gold, [D])


@pytest.fixture
def lake(lake_location: LakeLocation, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """A local or S3 lake with silver and gold, which the CLI is pointed at."""
    lake = Lake(lake_location.uri, lake_location.storage_options)
    write_silver_and_gold(lake)
    monkeypatch.setenv("SMART_TRADER_LAKE_URI", lake_location.uri)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in lake_location.storage_options.items():
        monkeypatch.setenv(name, value)
    return lake


def sql(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["sql", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_join_of_gold_and_silver(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = sql(capsys, JOIN, "--format", "csv")
    assert (code, err) == (0, "")
    assert out == "rank,wallet_address,swap_count,realized_pnl_usd\n1,W4,14,40.125\n2,W2,12,20.25\n"


def test_json_and_a_table_not_written_yet(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    query = "SELECT as_of_date, count(*) AS wallets FROM wallet_pnl GROUP BY 1 ORDER BY 1"
    code, out, _ = sql(capsys, query, "--format", "json")
    assert code == 0
    assert json.loads(out) == [
        {"as_of_date": BEFORE.isoformat(), "wallets": 4},
        {"as_of_date": D.isoformat(), "wallets": 4},
    ]
    # never written in this lake: an empty view with the contract's columns
    code, out, _ = sql(capsys, "SELECT count(*) AS n FROM transaction_history", "--format", "csv")
    assert (code, out) == (0, "n\n0\n")
    code, out, _ = sql(capsys, "DESCRIBE transaction_history", "--format", "csv")
    columns = pl.read_csv(out.encode()).get_column("column_name").to_list()
    assert columns == schemas.TRANSACTION_HISTORY.schema.names()


def test_s3_files_are_read_through_s3fs(
    s3_server: S3Server,
    s3_lake_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """read_parquet on s3:// works with no DuckDB extension: s3fs is DuckDB's filesystem."""
    write_silver_and_gold(Lake(s3_lake_uri, s3_server.storage_options))
    monkeypatch.setenv("SMART_TRADER_LAKE_URI", s3_lake_uri)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in s3_server.storage_options.items():
        monkeypatch.setenv(name, value)
    files = f"{s3_lake_uri}/{schemas.WALLET_PNL.path}/*/*.parquet"
    query = f"SELECT count(*) AS n FROM read_parquet('{files}')"
    code, out, err = sql(capsys, query, "--format", "csv")
    assert (code, err) == (0, "")
    assert out == "n\n8\n"


def test_the_console_script_prints_a_table(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_silver_and_gold(lake)
    out = subprocess.run(
        [str(Path(sys.executable).parent / "smart-trader"), "sql", JOIN],
        env=os.environ | {"SMART_TRADER_LAKE_URI": lake.root},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("│").split("│")]

    assert cells(lines[1]) == ["rank", "wallet_address", "swap_count", "realized_pnl_usd"]
    assert cells(lines[4]) == ["1", "W4", "14", "40.125"]
    assert cells(lines[5]) == ["2", "W2", "12", "20.25"]


def test_a_bad_query_prints_duckdbs_message_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMART_TRADER_LAKE_URI", str(tmp_path / "lake"))
    code, out, err = sql(capsys, "SELECT no_such_column FROM smart_wallets")
    assert (code, out) == (2, "")
    assert err.startswith("error: Binder Error") and "no_such_column" in err
    code, out, err = sql(capsys, "SELECT CAST('x' AS INTEGER)")  # fails while executing
    assert (code, out) == (2, "")
    assert err.startswith("error: Conversion Error")
