"""Dagster's default run launcher, with the worker health check that run monitoring needs.

The DefaultRunLauncher runs each run in a process of the code server that launched it, but
cannot tell the daemon whether that process is alive, so a run whose worker died together with
its code server (a killed container, an OOM kill of the process group, a restarted `dagster
dev`) stayed STARTED forever, holding a queue slot. This launcher asks the code server named in
the run's tags whether it still executes the run: an unreachable server, or one that no longer
knows the run while the run is not finished, means the worker is gone, and the daemon's run
monitoring marks the run failed (then run retries re-launch it).
"""

from __future__ import annotations

import json

from dagster import DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
from dagster._serdes import deserialize_value

_HEALTH_TIMEOUT_S = 15


class MonitoredRunLauncher(DefaultRunLauncher):
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
        except Exception as exc:  # the server is gone (connection refused, timed out)
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"code server unreachable: {type(exc).__name__}"
            )
        if deserialize_value(answer, CanCancelExecutionResult).can_cancel:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, "the code server no longer executes this run"
        )
