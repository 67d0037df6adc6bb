"""`smart-trader sandbox serve` answers over a real loopback socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_over_loopback() -> None:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "smart_trader.cli",
        "sandbox",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--seed",
        "7",
        "--api-key",
        "k",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/defi/v3/token/list",
                    params={"limit": 3},
                    headers={"X-API-KEY": "k"},
                    timeout=5,
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        assert len(r.json()["data"]["items"]) == 3
        denied = httpx.get(
            f"http://127.0.0.1:{port}/defi/v3/token/list", headers={"X-API-KEY": "wrong"}, timeout=5
        )
        assert denied.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
