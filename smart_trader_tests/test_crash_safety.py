"""A process killed (SIGKILL) in the middle of writing a partition leaves no half-written partition.

The writer is a real `Lake.write_partitions` of a large transaction_history partition, run in a
subprocess (this module's __main__). The table's target file size is set small so delta-rs
writes many data files one after another before its single commit; the test kills the writer
as soon as the first new data file appears and the commit does not exist yet. Every table then
still reads at its previous version, and re-running the write completes with no duplicates.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from deltalake import DeltaTable

from smart_trader import schemas
from smart_trader.lake import Lake

D = dt.date(2026, 3, 14)
BIG = 1_000_000
SMALL = 500
REPO = Path(__file__).resolve().parents[1]
TARGET_FILE_BYTES = 1 << 20


def swaps(day: dt.date, n: int, tag: str) -> pl.DataFrame:
    """n distinct, valid swaps of day D (the content is irrelevant, the volume is not)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    i = pl.int_range(0, n, eager=True)
    frame = pl.DataFrame(
        {
            "ingest_date": pl.repeat(day, n, eager=True),
            "block_time": pl.datetime_range(
                start, start + dt.timedelta(microseconds=n - 1), "1us", eager=True
            ),
            "block_number": i.cast(pl.Int64),
            "tx_hash": f"{tag}-{day}-" + i.cast(pl.String),
            "ins_index": pl.repeat(0, n, eager=True, dtype=pl.Int32),
            "inner_ins_index": pl.repeat(-1, n, eager=True, dtype=pl.Int32),
            "wallet_address": "W" + (i % 997).cast(pl.String),
            "source": pl.repeat("raydium", n, eager=True),
            "sold_token_address": pl.repeat("A", n, eager=True),
            "sold_token_symbol": pl.repeat("A", n, eager=True),
            "sold_amount": (i + 1).cast(pl.Float64),
            "sold_price_usd": pl.repeat(1.0, n, eager=True),
            "bought_token_address": pl.repeat("B", n, eager=True),
            "bought_token_symbol": pl.repeat("B", n, eager=True),
            "bought_amount": (i + 2).cast(pl.Float64),
            "bought_price_usd": pl.repeat(2.0, n, eager=True),
            "fetched_at": pl.repeat(start, n, eager=True),
            "fetch_truncated": pl.repeat(False, n, eager=True),
        }
    )
    return schemas.conform(frame, schemas.TRANSACTION_HISTORY)


def writer(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "smart_trader_tests.test_crash_safety", str(root)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def data_files(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.exists() else set()


def test_sigkill_mid_write_leaves_the_previous_version_and_a_rerun_completes(
    tmp_path: Path,
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    spec = schemas.TRANSACTION_HISTORY
    earlier = D - dt.timedelta(days=1)
    lake.write_partitions(spec, swaps(earlier, SMALL, "old"), [earlier])
    lake.write_partitions(spec, swaps(D, SMALL, "old"), [D])
    prices = pl.DataFrame(
        {
            "snapshot_date": [D],
            "token_address": ["A"],
            "price_usd": [1.0],
            "fetched_at": [dt.datetime(2026, 3, 15, tzinfo=dt.UTC)],
        }
    )
    lake.write_partitions(schemas.TOKEN_PRICES, schemas.conform(prices, schemas.TOKEN_PRICES), [D])
    table_dir = Path(lake.table_uri(spec))
    DeltaTable(str(table_dir)).alter.set_table_properties(
        {"delta.targetFileSize": str(TARGET_FILE_BYTES)}
    )
    before = {
        s.path: (lake.version(s), lake.scan(s).collect()) for s in (spec, schemas.TOKEN_PRICES)
    }
    version = lake.version(spec)
    assert version is not None
    commit = table_dir / "_delta_log" / f"{version + 1:020d}.json"
    partition_dir = table_dir / f"ingest_date={D}"
    existing = data_files(partition_dir)

    process = writer(tmp_path / "lake")
    deadline = time.monotonic() + 60
    while not (data_files(partition_dir) - existing) and process.poll() is None:
        assert time.monotonic() < deadline, "the writer wrote no data file in 60 s"
        time.sleep(0.001)
    committed_before_kill = commit.exists()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    assert not committed_before_kill and not commit.exists()
    assert data_files(partition_dir) - existing  # the killed write did leave files behind

    for path, (old_version, old_rows) in before.items():
        table = schemas.TABLES_BY_PATH[path]
        assert lake.version(table) == old_version, path
        assert lake.scan(table).collect().equals(old_rows), path

    process = writer(tmp_path / "lake")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert lake.version(spec) == version + 1
    rows = lake.scan(spec).collect()
    assert rows.filter(pl.col("ingest_date") == D).height == BIG
    assert rows.filter(pl.col("ingest_date") == earlier).equals(
        before[spec.path][1].filter(pl.col("ingest_date") == earlier)
    )
    assert not rows.select(spec.key).is_duplicated().any()
    assert (
        not rows.filter(pl.col("ingest_date") == D)
        .get_column("tx_hash")
        .str.starts_with("old")
        .any()
    )


if __name__ == "__main__":
    Lake(sys.argv[1]).write_partitions(schemas.TRANSACTION_HISTORY, swaps(D, BIG, "new"), [D])
