"""The webhook receiver on a loopback port for tests and the benchmark: a thread or a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from smart_trader.lake import Lake
from smart_trader.receiver.app import ReceiverConfig, create_app

SECRET = "Bearer test-secret-7f3a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(
    url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"receiver process exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"receiver at {url} not ready after {timeout}s")


def wait_flushed(url: str, timeout: float = 60.0) -> dict[str, Any]:
    """Until the flusher has written everything spooled; returns /healthz's body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/healthz", timeout=5.0)
        health: dict[str, Any] = r.json()
        if r.status_code == 200 and not health["flush_pending"]:
            return health
        time.sleep(0.05)
    raise TimeoutError(f"receiver at {url} still flushing after {timeout}s")


@contextmanager
def receiver_thread(spool_dir: Path, lake: Lake, max_body_bytes: int = 1 << 20) -> Iterator[str]:
    """A uvicorn server thread on a free loopback port; yields its base URL."""
    port = free_port()
    config = ReceiverConfig(spool_dir, lake, SECRET, max_body_bytes=max_body_bytes)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def start_receiver_process(
    spool_dir: Path, lake_uri: str, port: int, *extra: str
) -> subprocess.Popen[bytes]:
    """`smart-trader receiver serve` as a child process (its own session, killable alone)."""
    env = {**os.environ, "HELIUS_WEBHOOK_AUTH": SECRET, "SMART_TRADER_LAKE_URI": lake_uri}
    command = [sys.executable, "-m", "smart_trader.cli", "receiver", "serve"]
    command += ["--port", str(port), "--spool-dir", str(spool_dir), "--log-level", "warning"]
    return subprocess.Popen([*command, *extra], env=env, start_new_session=True)


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
