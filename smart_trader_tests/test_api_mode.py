"""Live or sandbox is decided once, from the environment, when the definitions load; run-time
resource config can never flip it (issue 11, finding 1), and token_metrics' data_source is
checked against that mode per partition."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import uvicorn
from starlette.applications import Starlette

from smart_trader import schemas
from smart_trader.definitions import build_definitions, default_resources
from smart_trader.defs.bronze.assets import TOKEN_METRICS
from smart_trader.defs.monitoring.assets import HELIUS_SYNC_LOG
from smart_trader.lake import Lake
from smart_trader.resources.api_client import Connection, ModeConflict
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.resources.delta_io_manager import DeltaIOManager
from smart_trader.resources.helius import HeliusClient
from smart_trader.resources.lake import LakeResource
from smart_trader.sandbox import SandboxConfig, create_app
from smart_trader.sandbox.transport import in_process
from smart_trader.settings import Settings, SettingsError
from smart_trader_tests.pipeline import SEED, WEBHOOK_URL, build_pipeline

REPO = Path(__file__).resolve().parents[1]
KEY = "fake-key-123"
OLD_DAY = dt.date(2026, 11, 10)
RESET_BIRDEYE = {"resources": {"birdeye": {"config": {"max_retries": 2}}}}
SETTINGS = Settings(tokens_per_day=3, holders_per_token=8, max_holder_pages=2)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The code location as the CLI loads it, on a persistent instance, no keys set."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for name in ("BIRDEYE_API_KEY", "HELIUS_API_KEY", "HELIUS_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("SMART_TRADER_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "DAGSTER_HOME": str(home),
        "SMART_TRADER_LAKE_URI": str(tmp_path / "lake"),
        "SMART_TRADER_TOKENS_PER_DAY": "3",
        "SMART_TRADER_HOLDERS_PER_TOKEN": "8",
        "SMART_TRADER_MAX_HOLDER_PAGES": "2",
        "SMART_TRADER_SANDBOX_STATE_DIR": str(tmp_path / "sandbox"),
    }.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


def materialize(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "asset", "materialize", "-m", "smart_trader.definitions"]
    return subprocess.run(
        [*command, "--select", "bronze/token_metrics", "--partition", OLD_DAY.isoformat(), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_run_config_with_a_key_set_fails_before_any_request_and_writes_nothing(
    env: dict[str, str],
) -> None:
    """The finding: with BIRDEYE_API_KEY set, `--config-json` with any birdeye config reset the
    key and the run stored 50 sandbox rows for a three-week-old day (exit 0). Now the run
    fails when its resources start (no step begins, so no request is sent), naming why."""
    out = materialize({**env, "BIRDEYE_API_KEY": KEY}, "--config-json", json.dumps(RESET_BIRDEYE))
    logged = out.stdout + out.stderr
    assert out.returncode != 0, logged[-3000:]
    assert "ModeConflict" in logged
    assert "BirdEye is live (BIRDEYE_API_KEY was set when the definitions loaded)" in logged
    assert "resources.birdeye leaves api_key empty" in logged
    assert KEY not in logged
    assert Lake(env["SMART_TRADER_LAKE_URI"]).version(schemas.TOKEN_METRICS) is None

    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    events = [entry.dagster_event for entry in instance.all_logs(run.run_id)]
    kinds = {e.event_type_value for e in events if e is not None}
    assert "RESOURCE_INIT_FAILURE" in kinds
    assert "STEP_START" not in kinds and "ASSET_MATERIALIZATION" not in kinds


def test_cli_without_a_key_the_same_launch_uses_the_sandbox(env: dict[str, str]) -> None:
    """The same launch with no key is the sandbox, any day, and its rows say so."""
    out = materialize(env, "--config-json", json.dumps(RESET_BIRDEYE))
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    rows = Lake(env["SMART_TRADER_LAKE_URI"]).read_day(schemas.TOKEN_METRICS, OLD_DAY)
    assert rows.height == 3 and rows.get_column("data_source").unique().to_list() == ["sandbox"]


@dataclass
class Served:
    url: str
    app: Starlette

    def requests(self) -> int:
        return len(self.app.state.request_log)


@pytest.fixture
def stand_in() -> Iterator[Served]:
    """A BirdEye/Helius-shaped server on loopback, standing in for the live APIs (which this
    machine cannot reach), that counts the requests it gets."""
    app = create_app(SandboxConfig(seed=SEED, api_key=KEY, helius_api_key=KEY))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(5)


def live_defs(tmp_path: Path, url: str) -> dg.Definitions:
    """The definitions as default_resources wires a live deployment, the live URL aside."""
    live = Connection(base_url=url, sandbox=False)
    lake_uri = str(tmp_path / "lake")
    resources = {
        "io_manager": DeltaIOManager(lake_uri=lake_uri),
        "lake": LakeResource(lake_uri=lake_uri),
        "birdeye": BirdEyeClient(connection=live, api_key=dg.EnvVar("BIRDEYE_API_KEY")),
        "helius": HeliusClient(
            connection=live, api_key=dg.EnvVar("HELIUS_API_KEY"), webhook_url=WEBHOOK_URL
        ),
    }
    return build_definitions(SETTINGS, resources)


def test_run_config_cannot_send_a_live_deployment_to_the_sandbox(
    tmp_path: Path, stand_in: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIRDEYE_API_KEY", KEY)
    monkeypatch.setenv("HELIUS_API_KEY", KEY)
    defs = live_defs(tmp_path, stand_in.url)
    job = defs.resolve_implicit_global_asset_job_def()
    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    instance = dg.DagsterInstance.ephemeral()

    # The control: without run config the live client does reach the server.
    plain = job.execute_in_process(
        instance=instance,
        partition_key=yesterday.isoformat(),
        asset_selection=[TOKEN_METRICS],
        raise_on_error=False,
    )
    assert stand_in.requests() > 0 and plain.success

    before = stand_in.requests()
    lake = Lake(str(tmp_path / "lake"))
    version = lake.version(schemas.TOKEN_METRICS)
    for key, config, asset in (
        ("birdeye", {"max_retries": 2}, TOKEN_METRICS),
        ("helius", {"webhook_url": "https://hooks.example.com/other"}, HELIUS_SYNC_LOG),
    ):
        with pytest.raises(dg.DagsterResourceFunctionError) as info:
            job.execute_in_process(
                instance=instance,
                partition_key=None if asset == HELIUS_SYNC_LOG else yesterday.isoformat(),
                asset_selection=[asset],
                run_config={"resources": {key: {"config": config}}},
            )
        assert isinstance(info.value.user_exception, ModeConflict)
        message = str(info.value.user_exception)
        assert f"resources.{key} leaves api_key empty" in message, message
        assert KEY not in message
    assert stand_in.requests() == before
    assert lake.version(schemas.TOKEN_METRICS) == version
    assert lake.version(schemas.HELIUS_SYNC_LOG) is None

    # With the key given back in the run config, the run is live and goes ahead.
    keyed = {"max_retries": 2, "api_key": {"env": "BIRDEYE_API_KEY"}}
    result = job.execute_in_process(
        instance=instance,
        partition_key=yesterday.isoformat(),
        asset_selection=[TOKEN_METRICS],
        run_config={"resources": {"birdeye": {"config": keyed}}},
    )
    assert result.success and stand_in.requests() > before


def test_default_resources_decide_the_mode_from_the_environment(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = default_resources()
    assert sandbox["birdeye"].is_sandbox and sandbox["birdeye"].data_source == "sandbox"
    assert sandbox["helius"].is_sandbox
    monkeypatch.setenv("BIRDEYE_API_KEY", KEY)
    live = default_resources()
    assert live["birdeye"].is_live and live["birdeye"].data_source == "birdeye"
    assert live["birdeye"].connection.base_url == BirdEyeClient.live_base_url
    assert live["helius"].is_sandbox  # no Helius key: Helius stays the sandbox
    monkeypatch.setenv("SMART_TRADER_SANDBOX_URL", "http://127.0.0.1:9")
    with pytest.raises(SettingsError, match=r"SMART_TRADER_SANDBOX_URL .* BIRDEYE_API_KEY"):
        default_resources()


def test_the_sandbox_with_a_key_set_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = BirdEyeClient(connection=in_process(SEED))
    monkeypatch.setenv("BIRDEYE_API_KEY", KEY)
    with pytest.raises(ModeConflict, match="BIRDEYE_API_KEY is set, so this deployment is live"):
        client.fetch_token_metrics(OLD_DAY, SETTINGS)
    with pytest.raises(ModeConflict, match="would use the in-process sandbox market"):
        client.fetch_prices(OLD_DAY, ["So11111111111111111111111111111111111111112"])


def test_data_source_check_holds_bronze_to_the_mode(tmp_path: Path) -> None:
    """Sandbox rows pass the sandbox deployment's check and fail a live one's (blocking)."""
    pipeline = build_pipeline(tmp_path, SETTINGS)
    day = dt.date(2026, 3, 14)
    result = pipeline.run_selection(day, [TOKEN_METRICS])
    key = dg.AssetCheckKey(TOKEN_METRICS, "data_source_is_the_mode")
    (mine,) = [e for e in result.get_asset_check_evaluations() if e.asset_check_key == key]
    assert mine.passed

    live = BirdEyeClient(connection=Connection("http://127.0.0.1:9", sandbox=False), api_key=KEY)
    job = dg.define_asset_job("mode_check", selection=dg.AssetSelection.checks(key))
    resources = {**pipeline.defs.resources, "birdeye": live}  # type: ignore[dict-item]
    defs = dg.Definitions.merge(build_definitions(SETTINGS, resources), dg.Definitions(jobs=[job]))
    checked = defs.resolve_job_def("mode_check").execute_in_process(
        instance=pipeline.instance,
        tags={"dagster/partition": day.isoformat()},
        raise_on_error=False,
    )
    (evaluation,) = checked.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["violations"].value == 1  # one data_source value, 3 rows
    assert "sandbox" in str(evaluation.metadata["examples"].value)
