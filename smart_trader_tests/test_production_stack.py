"""The production instance without Docker: docker-compose's dagster.yaml (Postgres storage, run
queue, run monitoring, run retries) on a real PostgreSQL server, the lake on SeaweedFS S3, the
code location as a gRPC code server, dagster-webserver and dagster-daemon, all on loopback.

- A day of the whole graph launched through the webserver runs through the queue, the daemon
  and the code server; its runs, materializations and checks are in Postgres, its tables on S3
  pass the contract.
- A run whose code server and worker are SIGKILLed (a crashed container) is marked failed by
  the daemon's run monitoring and retried once the code server is back.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import psycopg2
import pytest

from smart_trader import schemas
from smart_trader.lake import Lake
from smart_trader.schemas import schema_problems
from smart_trader_tests.conftest import SMALL_MARKET_ELIGIBILITY_ENV
from smart_trader_tests.dagster_stack import REPO, Stack, clean_environment, dagster_stack
from smart_trader_tests.fixtures_postgres import Postgres, running_postgres
from smart_trader_tests.fixtures_s3 import S3Server

DAY = dt.date(2026, 2, 3)
CONTRACT_TOOL = REPO.parent / "shared" / "tools" / "check_lake_contract.py"
PRODUCTION_INSTANCE = REPO / "smart_trader" / "deploy" / "dagster.yaml"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def lake_env(s3_server: S3Server) -> dict[str, str]:
    return {
        "SMART_TRADER_LAKE_URI": f"s3://{s3_server.bucket}/{uuid.uuid4().hex}",
        "AWS_EC2_METADATA_DISABLED": "true",
        **s3_server.storage_options,
    }


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres, lake_env: dict[str, str]
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("production_stack")
    env = clean_environment()
    env |= postgres.env | lake_env
    env |= {
        "SMART_TRADER_TOKENS_PER_DAY": "3",
        "SMART_TRADER_HOLDERS_PER_TOKEN": "8",
        "SMART_TRADER_ELIGIBILITY": SMALL_MARKET_ELIGIBILITY_ENV,
        "SMART_TRADER_SANDBOX_STATE_DIR": str(work / "sandbox"),
    }
    with dagster_stack(work, PRODUCTION_INSTANCE, env) as running:
        yield running


def query(postgres: Postgres, sql: str, *args: object) -> list[tuple[object, ...]]:
    with (
        psycopg2.connect(
            host=postgres.host,
            port=postgres.port,
            user=postgres.user,
            password=postgres.password,
            dbname=postgres.database,
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def test_a_day_of_the_whole_graph_runs_through_the_daemon_on_postgres_and_s3(
    stack: Stack, postgres: Postgres, lake_env: dict[str, str]
) -> None:
    assets = stack.asset_paths()
    run_id = stack.launch(assets, DAY.isoformat())
    assert stack.wait_for_run(run_id, {"SUCCESS", "FAILURE", "CANCELED"}) == "SUCCESS"

    # The run, every asset's materialization and the checks' results are in Postgres.
    assert query(postgres, "SELECT status FROM runs WHERE run_id = %s", run_id) == [("SUCCESS",)]
    materialized = query(
        postgres,
        "SELECT DISTINCT asset_key FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        run_id,
    )
    expected = {'["' + '", "'.join(path.split("/")) + '"]' for path in assets}
    assert {row[0] for row in materialized} == expected
    checks = query(
        postgres,
        "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
        run_id,
    )
    assert len(checks) > 10
    assert not [c for c in checks if c[1] == "FAILED"], checks
    # The run went through the queue (the daemon launched it) and ran in the code server.
    types = query(
        postgres, "SELECT DISTINCT dagster_event_type FROM event_logs WHERE run_id = %s", run_id
    )
    assert {"PIPELINE_ENQUEUED", "PIPELINE_STARTING", "PIPELINE_SUCCESS"} <= {t[0] for t in types}
    assert _worker_pid(postgres, run_id) > 0

    # The tables on S3 pass the contract: the project's schemas, and the shared checker.
    lake = Lake(
        lake_env["SMART_TRADER_LAKE_URI"],
        {k: v for k, v in lake_env.items() if k.startswith("AWS_") and "METADATA" not in k},
    )
    for spec in schemas.ALL_TABLES:
        frame = lake.scan(spec).collect()
        assert not schema_problems(frame.schema, spec), spec.path
    gold = lake.read_day(schemas.SMART_WALLETS, DAY)
    assert gold.height > 0 and gold.get_column("as_of_date").unique().to_list() == [DAY]
    assert pl.Series(gold.get_column("rank")).is_unique().all()
    if CONTRACT_TOOL.exists():  # shared/ lies beside the repository here and in CI
        out = subprocess.run(
            [
                sys.executable,
                str(CONTRACT_TOOL),
                lake_env["SMART_TRADER_LAKE_URI"],
                DAY.isoformat(),
            ],
            env={**os.environ, **lake_env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_a_run_whose_worker_died_is_marked_failed_by_the_daemon_and_retried(
    stack: Stack, postgres: Postgres
) -> None:
    day = (DAY + dt.timedelta(days=1)).isoformat()
    run_id = stack.launch(["bronze/token_metrics", "bronze/whale_holders"], day)
    stack.wait_for_run(run_id, {"STARTED", *FINISHED_STATES}, timeout=120)
    worker = _worker_pid(postgres, run_id)
    # The container dies: code server and run worker at once. Nothing is left to report it.
    stack.kill_code_server()
    if not _dead(worker):  # outside the server's process group: the container takes it too
        os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _dead(worker):
        assert time.monotonic() < deadline, f"worker {worker} survived SIGKILL"
        time.sleep(0.1)
    assert stack.run(run_id)["status"] == "STARTED"
    stack.start_code_server()  # compose restarts the service

    killed_at = time.monotonic()
    assert stack.wait_for_run(run_id, FINISHED_STATES, timeout=150) == "FAILURE"
    print(f"marked failed {time.monotonic() - killed_at:.0f} s after the code server came back")
    events = _events(postgres, run_id, "PIPELINE_FAILURE")
    assert events and "code server" in str(events[-1][0])

    # Run retries: a new run of the same day, started by the daemon, succeeds.
    retry = _retry_of(postgres, run_id, timeout=120)
    assert stack.wait_for_run(retry, FINISHED_STATES) == "SUCCESS"
    tags = {t["key"]: t["value"] for t in stack.run(retry)["tags"]}
    assert tags["dagster/partition"] == day and tags["dagster/retry_number"] == "1"


FINISHED_STATES = {"SUCCESS", "FAILURE", "CANCELED"}


def _dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped (its parent was killed too)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def _events(postgres: Postgres, run_id: str, event_type: str) -> list[tuple[object, ...]]:
    sql = "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = %s ORDER BY id"
    return query(postgres, sql, run_id, event_type)


def _worker_pid(postgres: Postgres, run_id: str, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for (event,) in _events(postgres, run_id, "ENGINE_EVENT"):
            text = str(event)
            if "Started process for run (pid: " in text:
                return int(text.split("Started process for run (pid: ")[1].split(")")[0])
        time.sleep(0.2)
    raise AssertionError(f"run {run_id}: no worker process started")


def _retry_of(postgres: Postgres, run_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(
            postgres,
            "SELECT run_id FROM run_tags WHERE key = 'dagster/parent_run_id' AND value = %s",
            run_id,
        )
        if rows:
            return str(rows[0][0])
        time.sleep(1)
    raise AssertionError(f"no retry of {run_id} within {timeout} s")
