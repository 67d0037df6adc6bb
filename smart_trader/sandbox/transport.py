"""The sandbox as the API clients' connection, for the definitions' wiring and the tests.

The production clients take a Connection (resources.api_client) and never import the sandbox;
here the sandbox app is mounted into httpx (ASGITransport), so the clients run their real code
paths without sockets, or pointed at a sandbox served over HTTP.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from smart_trader.resources.api_client import Connection
from smart_trader.sandbox.app import default_seed, shared_app
from smart_trader.sandbox.environment import FAULTS, URL

# Any host will do: an ASGI transport never resolves it.
IN_PROCESS_BASE_URL = "http://sandbox.invalid"


def in_process(seed: int | None = None, faults: str | None = None, **options: Any) -> Connection:
    """The process's shared sandbox app for (seed, faults, options); seed and faults default to
    SMART_TRADER_SANDBOX_SEED and SMART_TRADER_SANDBOX_FAULTS. options: SandboxConfig fields,
    e.g. helius_state_path (a non-default option makes an app, and a request log, of its own)."""
    chosen_seed = default_seed() if seed is None else seed
    chosen_faults = faults or os.environ.get(FAULTS) or ""

    def transport() -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=shared_app(chosen_seed, chosen_faults, **options))

    shown_faults = f", faults {chosen_faults!r}" if chosen_faults else ""
    return Connection(
        base_url=IN_PROCESS_BASE_URL,
        sandbox=True,
        transport=transport,
        description=f"the in-process sandbox market (seed {chosen_seed}{shown_faults})",
    )


def served_at(url: str) -> Connection:
    """A sandbox served over HTTP (`smart-trader sandbox serve`, docker-compose)."""
    return Connection(base_url=url, sandbox=True)


def from_environment(**options: Any) -> Connection:
    """The sandbox the environment names: served at SMART_TRADER_SANDBOX_URL, else in process
    (with `options`)."""
    url = os.environ.get(URL)
    return served_at(url) if url else in_process(**options)
