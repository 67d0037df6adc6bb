"""Dagster's default run launcher, with the worker health check that run monitoring needs.

The DefaultRunLauncher runs each run in a process of the code server that launched it, but
cannot tell the daemon whether that process is alive, so a run whose worker died together with
its code server (a killed container, an OOM kill of the process group, a restarted `dagster
dev`) stayed STARTED forever, holding a queue slot. This launcher asks the code server named in
the run's tags whether it still executes the run: one that no longer knows the run while the
run is not finished means the worker is gone, and the daemon's run monitoring marks the run
failed (then run retries re-launch it).

Two waits keep that retry from being lost. While the server is unreachable (restarting, as
compose's restart policy does) the run is not judged: failing it then would send the retry to
a daemon whose workspace still holds the location in error, and Dagster drops a retry it cannot
launch. Once the server answers again, the run is judged only after the daemon has reloaded its
workspace (every RELOAD_WORKSPACE_INTERVAL seconds), so the retry finds the location loaded.
"""

from __future__ import annotations

import json
import time

from dagster import DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._daemon.controller import RELOAD_WORKSPACE_INTERVAL
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
from dagster._serdes import ConfigurableClassData, deserialize_value

_HEALTH_TIMEOUT_S = 15
_WORKSPACE_RELOADED_S = RELOAD_WORKSPACE_INTERVAL + 10


class MonitoredRunLauncher(DefaultRunLauncher):
    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(inst_data=inst_data)
        # When each code server (host:port or socket) was first seen answering since it was
        # last unreachable, in this process (the daemon's).
        self._answering_since: dict[str, float] = {}

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        info = run.tags.get(GRPC_INFO_TAG)
        if info is None:
            # Not launched through a code server (e.g. `dagster asset materialize` runs in the
            # CLI's own process): nothing to ask; run_monitoring's max_runtime_seconds still holds.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no code server to ask")
        server = json.loads(info)
        client = DagsterGrpcClient(
            port=server.get("port"),
            socket=server.get("socket"),
            host=server.get("host") or "localhost",
            use_ssl=bool(server.get("use_ssl", False)),
        )
        try:
            answer = client.can_cancel_execution(
                CanCancelExecutionRequest(run_id=run.run_id), timeout=_HEALTH_TIMEOUT_S
            )
        except Exception as exc:  # the server is down or restarting (refused, timed out)
            self._answering_since.pop(info, None)  # the tag names the server exactly
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, f"code server unreachable ({type(exc).__name__}): waiting"
            )
        # Every answer counts, so a server that never went away is judged at once.
        answering = time.monotonic() - self._answering_since.setdefault(info, time.monotonic())
        if deserialize_value(answer, CanCancelExecutionResult).can_cancel:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        if answering < _WORKSPACE_RELOADED_S:
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, "the code server is back: judged once the daemon reloaded"
            )
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            "the code server no longer executes this run: its worker died",
        )
