"""The production stack's Dagster processes, run for real on loopback: the code location as a
gRPC code server, dagster-webserver and dagster-daemon, as docker-compose runs them (one
workspace pointing at the code server), against a temporary DAGSTER_HOME; and GraphQL helpers
to launch runs and follow them the way the UI does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION = "smart_trader"
STARTUP_TIMEOUT_S = 180.0
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
# dagster-daemon, with its backfill daemon ticking every BACKFILL_TICK_S instead of every 30 s
# (DEFAULT_DAEMON_INTERVAL_SECONDS, which no instance setting changes in Dagster 1.13). A range
# backfill advances one layer of runs a tick, so at 30 s the tests' backfills spent most of
# their time asleep; everything else is the installed daemon, unchanged.
BACKFILL_TICK_S = 3
DAEMON = (
    "import sys\n"
    "import dagster._daemon.controller as controller\n"
    f"controller.DEFAULT_DAEMON_INTERVAL_SECONDS = {BACKFILL_TICK_S}\n"
    "from dagster._daemon.cli import main\n"
    "sys.exit(main())\n"
)


# What would point a stack at the developer's own deployment: keys, lake, instance.
DEPLOYMENT_PREFIXES = ("SMART_TRADER_", "AWS_", "DAGSTER_")
DEPLOYMENT_KEYS = ("BIRDEYE_API_KEY", "HELIUS_API_KEY", "HELIUS_WEBHOOK_URL")


def clean_environment() -> dict[str, str]:
    """This process's environment without any deployment setting: a stack sees only what its
    test gives it."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(DEPLOYMENT_PREFIXES) and k not in DEPLOYMENT_KEYS
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    url: str
    home: Path
    env: dict[str, str]
    code_server_port: int
    logs: Path
    code_server: subprocess.Popen[bytes] | None = None

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        reply = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        reply.raise_for_status()
        body = reply.json()
        assert "errors" not in body, body["errors"]
        return dict(body["data"])

    def start_code_server(self) -> None:
        """(Re)start the code server on its port, as compose's restart policy would."""
        port = str(self.code_server_port)
        command = [str(BIN / "dagster"), "api", "grpc", "--host", "127.0.0.1", "--port", port,
                   "--module-name", "smart_trader.definitions"]  # fmt: skip
        self.code_server = _start(command, self.env, self.logs / "code-server.log")
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        health = [str(BIN / "dagster"), "api", "grpc-health-check", "--port",
                  str(self.code_server_port)]  # fmt: skip
        while subprocess.run(health, capture_output=True, env=self.env).returncode != 0:
            _alive_or_fail(self.code_server, self.logs / "code-server.log", deadline)
            time.sleep(1)

    def stop_code_server(self) -> None:
        if self.code_server is not None:
            _stop(self.code_server)

    def kill_code_server(self) -> None:
        """SIGKILL the code server and every run worker it started (its process group)."""
        assert self.code_server is not None
        os.killpg(self.code_server.pid, signal.SIGKILL)
        self.code_server.wait()

    def launch(self, asset_paths: list[str], partition: str) -> str:
        """Launch a run of these assets for one partition, as the UI's launchpad does."""
        data = self.graphql(
            LAUNCH,
            executionParams={
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": "__repository__",
                    "pipelineName": "__ASSET_JOB",
                    "assetSelection": [{"path": p.split("/")} for p in asset_paths],
                },
                "mode": "default",
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
            },
        )["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return str(data["run"]["runId"])

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.graphql(RUN, runId=run_id)["runOrError"])

    def wait_for_run(self, run_id: str, statuses: set[str], timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = self.run(run_id)["status"]
            if status in statuses:
                return status
            time.sleep(1)
        raise AssertionError(f"run {run_id} still {status} after {timeout} s; logs: {self.logs}")

    def stop_sensor(self, name: str) -> None:
        selector = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
        sensor = self.graphql(SENSOR, selector={**selector, "sensorName": name})["sensorOrError"]
        stopped = self.graphql(STOP_SENSOR, id=sensor["sensorState"]["id"])["stopSensor"]
        assert stopped["instigationState"]["status"] == "STOPPED", stopped

    def asset_paths(self) -> list[str]:
        """Every asset the code location can materialize (external assets are not)."""
        nodes = self.graphql("{ assetNodes { assetKey { path } isMaterializable } }")["assetNodes"]
        return sorted("/".join(n["assetKey"]["path"]) for n in nodes if n["isMaterializable"])


LAUNCH = """
mutation($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
SENSOR = """
query($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { ... on Sensor { sensorState { id } } }
}"""
STOP_SENSOR = """
mutation($id: String!) {
  stopSensor(id: $id) { ... on StopSensorMutationResult { instigationState { status } } }
}"""
RUN = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status tags { key value } }
  }
}"""


def _start(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            command, cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with everything it started
        )  # fmt: skip


def _alive_or_fail(process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    if process.poll() is not None:
        raise RuntimeError(
            f"{process.args!r} exited {process.returncode}:\n{log.read_text()[-4000:]}"
        )
    if time.monotonic() > deadline:
        raise RuntimeError(f"{process.args!r} not ready in {STARTUP_TIMEOUT_S} s: see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def dagster_stack(
    work: Path,
    dagster_yaml: Path,
    env: Mapping[str, str],
    stop_sensors: tuple[str, ...] = ("smart_trader_automation",),
) -> Iterator[Stack]:
    """Code server, webserver and daemon on free loopback ports; DAGSTER_HOME under `work`
    holding `dagster_yaml`; the automation sensor stopped. Process logs are left in work/logs."""
    home, logs = work / "dagster_home", work / "logs"
    home.mkdir(parents=True)
    logs.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml.read_text())
    grpc_port, web_port = free_port(), free_port()
    workspace = work / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
        f"      port: {grpc_port}\n      location_name: {LOCATION}\n"
    )
    stack = Stack(
        url=f"http://127.0.0.1:{web_port}",
        home=home,
        env={**env, "DAGSTER_HOME": str(home)},
        code_server_port=grpc_port,
        logs=logs,
    )
    with ExitStack() as cleanup:
        cleanup.callback(stack.stop_code_server)
        stack.start_code_server()
        webserver = _start(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port),
             "-w", str(workspace)],
            stack.env, logs / "webserver.log",
        )  # fmt: skip
        cleanup.callback(_stop, webserver)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            _alive_or_fail(webserver, logs / "webserver.log", deadline)
            try:
                if stack.asset_paths():
                    break
            except (httpx.HTTPError, AssertionError):
                pass
            time.sleep(1)
        # Before the daemon starts: only the runs a test launches run (no tick for "today").
        for sensor in stop_sensors:
            stack.stop_sensor(sensor)
        daemon = _start(
            [sys.executable, "-c", DAEMON, "run", "-w", str(workspace)],
            stack.env,
            logs / "daemon.log",
        )
        cleanup.callback(_stop, daemon)
        print(f"dagster stack: {stack.url}, DAGSTER_HOME={home}, logs in {logs}")
        yield stack
