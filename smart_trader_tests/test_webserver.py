"""The UI entry point: the real Dagster webserver loads workspace.yaml from the repo root and
serves the asset graph, its checks and the automation sensor."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
QUERY = """
{
  assetNodes { assetKey { path } partitionDefinition { name } assetChecksOrError {
    ... on AssetChecks { checks { name blocking } } } }
  repositoriesOrError { ... on RepositoryConnection { nodes { name sensors { name } } } }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    port = free_port()
    env = dict(os.environ, DAGSTER_HOME=str(home), SMART_TRADER_LAKE_URI=str(tmp_path / "lake"))
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the webserver did not answer within 90 s")
        yield url
    finally:
        process.kill()
        process.wait()


def test_webserver_serves_the_asset_graph(webserver: str) -> None:
    data: dict = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the code location loads after the server is up
        data = httpx.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=30).json()["data"]
        if data["assetNodes"]:
            break
        time.sleep(1)
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert set(nodes) >= {
        "bronze/token_metrics",
        "bronze/transaction_history",
        "silver/wallet_token_pnl",
        "gold/smart_wallets",
        "monitoring/helius_sync_log",
    }
    assert nodes["gold/smart_wallets"]["partitionDefinition"] is not None
    checks = {c["name"]: c for c in nodes["gold/smart_wallets"]["assetChecksOrError"]["checks"]}
    assert checks["eligibility"]["blocking"]
    sensors = {s["name"] for repo in data["repositoriesOrError"]["nodes"] for s in repo["sensors"]}
    assert "smart_trader_automation" in sensors
