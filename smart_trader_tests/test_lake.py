"""The Lake on real Delta tables, locally and on S3 (SeaweedFS): a write touches only its days."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from smart_trader.lake import Lake, LakeError, check_lake_uri
from smart_trader.resources.lake import LakeResource
from smart_trader.schemas import (
    HELIUS_SYNC_LOG,
    REJECTED_RECORDS,
    TOKEN_PRICES,
    WHALE_HOLDERS,
    SchemaError,
)
from smart_trader_tests.fixtures_s3 import LakeLocation, S3Server

D1 = date(2026, 1, 1)
DAYS = [D1 + timedelta(days=i) for i in range(5)]
FETCHED = datetime(2026, 1, 6, tzinfo=UTC)


def holders(day: date, rows: int, token: str = "tok") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "snapshot_date": [day] * rows,
            "token_address": [token] * rows,
            "wallet_address": [f"w{i}" for i in range(rows)],
            "rank": list(range(1, rows + 1)),
            "ui_amount": [float(i + 1) for i in range(rows)],
            "value_usd": [2.0 * (i + 1) for i in range(rows)],
            "fetched_at": [FETCHED] * rows,
        },
        schema=WHALE_HOLDERS.schema,
    )


def days_frame(days: list[date], rows: int = 3, token: str = "tok") -> pl.DataFrame:
    return pl.concat([holders(d, rows, token) for d in days])


def by_day(lake: Lake) -> dict[date, list[str]]:
    """Every day's token addresses, read back through the whole table."""
    rows = lake.scan(WHALE_HOLDERS).collect().sort("snapshot_date", "wallet_address")
    return {
        d: group.get_column("token_address").to_list()
        for (d,), group in rows.group_by("snapshot_date", maintain_order=True)
    }


def test_write_replaces_exactly_its_days_and_reads_filter(lake_location: LakeLocation) -> None:
    lake = Lake(lake_location.uri, lake_location.storage_options)
    assert lake.version(WHALE_HOLDERS) is None
    # Version 0 creates the table with the contract's schema; each write is one more commit.
    assert lake.write_partitions(WHALE_HOLDERS, days_frame(DAYS), DAYS) == 1
    assert lake.write_partitions(WHALE_HOLDERS, holders(DAYS[2], 2, "new"), [DAYS[2]]) == 2

    stored = by_day(lake)
    assert stored[DAYS[2]] == ["new", "new"]
    assert all(stored[d] == ["tok"] * 3 for d in DAYS if d != DAYS[2])
    window = lake.scan(WHALE_HOLDERS, [DAYS[1], DAYS[2]]).collect()
    assert sorted(set(window.get_column("snapshot_date"))) == [DAYS[1], DAYS[2]]
    assert window.height == 5
    assert lake.read_day(WHALE_HOLDERS, DAYS[4]).height == 3
    assert lake.scan(WHALE_HOLDERS).collect().schema == WHALE_HOLDERS.schema

    # Zero rows for a range empties those days (one commit) and nothing else.
    assert lake.write_partitions(WHALE_HOLDERS, WHALE_HOLDERS.empty(), DAYS[3:]) == 3
    assert lake.days_present(WHALE_HOLDERS, DAYS) == set(DAYS[:3])
    assert sorted(by_day(lake)) == DAYS[:3]


def test_rerun_gives_same_rows_and_a_new_version(lake_location: LakeLocation) -> None:
    lake = Lake(lake_location.uri, lake_location.storage_options)
    frame = days_frame(DAYS[:2])
    first = lake.write_partitions(WHALE_HOLDERS, frame, DAYS[:2])
    before = lake.scan(WHALE_HOLDERS).collect().sort("snapshot_date", "wallet_address")
    second = lake.write_partitions(WHALE_HOLDERS, frame, DAYS[:2])
    after = lake.scan(WHALE_HOLDERS).collect().sort("snapshot_date", "wallet_address")
    assert second == first + 1 == lake.version(WHALE_HOLDERS)
    assert after.equals(before)


def test_concurrent_writes_to_a_fresh_table_all_land(lake_location: LakeLocation) -> None:
    # A multi-run backfill on a fresh lake: runs race to create the table, then to commit.
    lake = Lake(lake_location.uri, lake_location.storage_options)
    with ThreadPoolExecutor(len(DAYS)) as pool:
        versions = list(
            pool.map(lambda d: lake.write_partitions(WHALE_HOLDERS, holders(d, 3), [d]), DAYS)
        )
    assert len(set(versions)) == len(DAYS)
    assert lake.days_present(WHALE_HOLDERS, DAYS) == set(DAYS)
    assert lake.scan(WHALE_HOLDERS).collect().height == 3 * len(DAYS)


def test_whole_table_overwrite_is_refused_and_other_days_survive(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.write_partitions(WHALE_HOLDERS, days_frame(DAYS), DAYS)
    # A frame for every day, written as day 3: the old plugin's silent whole-table overwrite.
    with pytest.raises(LakeError, match=r"rows for days \['2026-01-01', '2026-01-02'"):
        lake.write_partitions(WHALE_HOLDERS, days_frame(DAYS, token="all"), [DAYS[2]])
    with pytest.raises(LakeError, match="no days to write"):
        lake.write_partitions(WHALE_HOLDERS, days_frame(DAYS, token="all"), [])
    with pytest.raises(LakeError, match="dates, not datetimes"):
        lake.write_partitions(WHALE_HOLDERS, holders(D1, 1), [datetime(2026, 1, 1, tzinfo=UTC)])
    assert lake.version(WHALE_HOLDERS) == 1
    assert all(tokens == ["tok"] * 3 for tokens in by_day(lake).values())
    assert sorted(by_day(lake)) == DAYS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (pl.col("snapshot_date").cast(pl.String), "column snapshot_date is String"),
        (pl.col("snapshot_date").cast(pl.Datetime("us")), "column snapshot_date is Datetime"),
        (pl.col("rank").cast(pl.Int64), "column rank is Int64, contract says Int32"),
        (pl.col("fetched_at").dt.replace_time_zone(None), "column fetched_at is Datetime"),
        (pl.lit(1).alias("extra"), "unexpected column extra"),
        (pl.lit(None, pl.String).alias("wallet_address"), r"non-null columns \['wallet_address'\]"),
    ],
)
def test_wrong_schema_fails_naming_the_column_and_leaves_the_table(
    tmp_path: Path, change: pl.Expr, message: str
) -> None:
    lake = Lake(str(tmp_path))
    lake.write_partitions(WHALE_HOLDERS, days_frame(DAYS[:2]), DAYS[:2])
    with pytest.raises(SchemaError, match=message):
        lake.write_partitions(WHALE_HOLDERS, holders(D1, 2, "bad").with_columns(change), [D1])
    with pytest.raises(SchemaError, match="missing column rank"):
        lake.write_partitions(WHALE_HOLDERS, holders(D1, 2).drop("rank"), [D1])
    assert lake.version(WHALE_HOLDERS) == 1
    assert by_day(lake) == {D1: ["tok"] * 3, DAYS[1]: ["tok"] * 3}


def test_zero_rows_on_a_new_table_creates_it_empty(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.write_partitions(WHALE_HOLDERS, WHALE_HOLDERS.empty(), [D1]) == 1
    assert lake.scan(WHALE_HOLDERS, [D1]).collect().equals(WHALE_HOLDERS.empty())
    assert lake.days_present(WHALE_HOLDERS, [D1]) == set()
    # The Delta schema is the contract's, non-null columns declared non-nullable.
    fields = {f.name: f.nullable for f in DeltaTable(lake.table_uri(WHALE_HOLDERS)).schema().fields}
    assert fields["snapshot_date"] is False
    assert DeltaTable(lake.table_uri(WHALE_HOLDERS)).metadata().partition_columns == [
        "snapshot_date"
    ]


def test_missing_table_reads_empty(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.scan(WHALE_HOLDERS, [D1]).collect().equals(WHALE_HOLDERS.empty())
    assert lake.days_present(WHALE_HOLDERS, DAYS) == set()


def test_append_only_table(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    row = pl.DataFrame(
        {
            "synced_at": [FETCHED],
            "as_of_date": [D1],
            "webhook_id": ["wh"],
            "status": ["ok"],
            "address_count": [3],
            "added_count": [3],
            "removed_count": [0],
            "addresses_sha256": ["abc"],
        },
        schema=HELIUS_SYNC_LOG.schema,
    )
    assert lake.append(HELIUS_SYNC_LOG, row) == 1
    assert lake.append(HELIUS_SYNC_LOG, row) == 2
    assert lake.scan(HELIUS_SYNC_LOG).collect().height == 2
    with pytest.raises(LakeError, match="use write_partitions"):
        lake.append(WHALE_HOLDERS, holders(D1, 1))
    with pytest.raises(LakeError, match="use append"):
        lake.write_partitions(HELIUS_SYNC_LOG, row, [D1])
    with pytest.raises(LakeError, match="not partitioned"):
        lake.scan(HELIUS_SYNC_LOG, [D1])


@pytest.mark.parametrize("bad", ["s3:/bucket", "ftp://x", "s3://", "http://host/lake", " "])
def test_malformed_lake_uri_fails_naming_the_setting(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LakeError, match="SMART_TRADER_LAKE_URI"):
        check_lake_uri(bad)
    with pytest.raises(ValueError, match="SMART_TRADER_LAKE_URI"):
        LakeResource(lake_uri=bad)
    monkeypatch.setenv("SMART_TRADER_LAKE_URI", bad)
    with pytest.raises(ValueError, match="SMART_TRADER_LAKE_URI"):
        LakeResource()


def test_lake_uri_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMART_TRADER_LAKE_URI", raising=False)
    assert LakeResource().lake().root == str(tmp_path / "data" / "lake")
    monkeypatch.setenv("SMART_TRADER_LAKE_URI", f"file://{tmp_path}/env-lake/")
    assert LakeResource().lake().root == str(tmp_path / "env-lake")
    keys = {"AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret"}
    s3 = LakeResource(lake_uri="s3://bucket/prefix/", storage_options=keys)
    assert s3.lake().root == "s3://bucket/prefix"


def test_s3_keys_come_from_the_environment_and_stay_out_of_repr(
    s3_server: S3Server, s3_lake_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_server.storage_options.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ALLOW_HTTP")  # derived from the http:// endpoint
    resource = LakeResource(lake_uri=s3_lake_uri)
    lake = resource.lake()
    assert lake.storage_options["AWS_ALLOW_HTTP"] == "true"
    assert s3_server.secret_key not in repr(lake) + repr(resource)
    lake.write_partitions(WHALE_HOLDERS, days_frame(DAYS[:2]), DAYS[:2])
    assert lake.read_day(WHALE_HOLDERS, DAYS[1]).height == 3


def test_within_replaces_only_the_named_writers_rows_of_the_day(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))

    def rejected(day: date, endpoint: str, rows: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "ingest_date": [day] * rows,
                "endpoint": [endpoint] * rows,
                "reason": ["bad"] * rows,
                "raw_record": ["{}"] * rows,
                "fetched_at": [FETCHED] * rows,
                "asset": [None] * rows,
            },
            schema=REJECTED_RECORDS.schema,
        )

    both = pl.concat([rejected(D1, "/a", 2), rejected(D1, "/b", 2), rejected(DAYS[1], "/a", 1)])
    lake.write_partitions(REJECTED_RECORDS, both, DAYS[:2])
    lake.write_partitions(
        REJECTED_RECORDS, rejected(D1, "/a", 1), [D1], within=("endpoint", ["/a"])
    )
    counts = lake.scan(REJECTED_RECORDS).collect().group_by("ingest_date", "endpoint").len()
    assert sorted(counts.iter_rows()) == [(D1, "/a", 1), (D1, "/b", 2), (DAYS[1], "/a", 1)]
    with pytest.raises(LakeError, match=r"rows with endpoint \['/b'\] outside \['/a'\]"):
        lake.write_partitions(
            REJECTED_RECORDS, rejected(D1, "/b", 1), [D1], within=("endpoint", ["/a"])
        )


def test_a_table_created_before_a_new_contract_column_gets_it(tmp_path: Path) -> None:
    """Adding a column is not a breaking change: a lake written by an older version upgrades."""
    lake = Lake(str(tmp_path))
    columns = {k: v for k, v in TOKEN_PRICES.schema.items() if k != "fetched_at"}
    old = dataclasses.replace(
        TOKEN_PRICES, schema=pl.Schema(columns), non_null=TOKEN_PRICES.non_null - {"fetched_at"}
    )
    day = date(2026, 3, 1)
    before = pl.DataFrame(
        {"snapshot_date": [day], "token_address": ["Tok1"], "price_usd": [1.5]}, schema=old.schema
    )
    lake.write_partitions(old, before, [day])
    later, now = day + timedelta(days=1), datetime(2026, 3, 2, tzinfo=UTC)
    after = pl.DataFrame(
        {"snapshot_date": [later], "token_address": ["Tok1"], "price_usd": [2.0]},
        schema=old.schema,
    ).with_columns(fetched_at=pl.lit(now, dtype=TOKEN_PRICES.schema["fetched_at"]))
    lake.write_partitions(TOKEN_PRICES, after, [later])
    rows = lake.scan(TOKEN_PRICES).sort("snapshot_date").collect()
    assert rows.get_column("price_usd").to_list() == [1.5, 2.0]
    assert rows.get_column("fetched_at").to_list() == [None, now]
