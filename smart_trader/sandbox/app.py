"""The sandbox's HTTP app: BirdEye- and Helius-shaped endpoints over the market.

Every BirdEye request goes through the same gate, in this order: request log, API key (401),
per-account token bucket (429), compute-unit quota (400), transient faults, then the handler.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smart_trader.sandbox import birdeye, helius, webhooks
from smart_trader.sandbox.errors import ApiError, json_response
from smart_trader.sandbox.faults import FaultConfig, FaultInjector
from smart_trader.sandbox.market import get_market
from smart_trader.sandbox.size import MarketSize, size_from_env

DEFAULT_SEED = 7
# Compute units per call (external-apis.md §1.6; "var" endpoints get a flat cost here)
CU_COSTS = {
    "/defi/v3/token/list": 100,
    "/defi/v3/token/holder": 50,
    "/trader/txs/seek_by_time": 30,
    "/defi/token_overview": 30,
    "/defi/multi_price": 10,  # per address
}


def default_seed() -> int:
    return int(os.environ.get("SMART_TRADER_SANDBOX_SEED", DEFAULT_SEED))


@dataclass(frozen=True)
class SandboxConfig:
    seed: int
    api_key: str | None = None
    helius_api_key: str | None = None
    rate_limit_rps: float | None = None
    rate_limit_burst: int | None = None
    compute_units: int | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    strict_time_bounds: bool = False
    helius_state_path: str | None = None
    allow_loopback_webhooks: bool = True
    helius_max_webhooks: int = 10
    # by default the size the environment sets (SMART_TRADER_SANDBOX_TOKENS, ...; size.py)
    size: MarketSize = field(default_factory=size_from_env)


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    params: dict[str, str]
    status: int
    at: float


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, account: str) -> float:
        """0 when allowed, else the seconds until a token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._tokens.get(account, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._tokens[account] = (tokens - 1.0, now)
                return 0.0
            self._tokens[account] = (tokens, now)
            return (1.0 - tokens) / self.rate


class Gate:
    """Per-app mutable state: request log, buckets, quotas, faults."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.request_log: list[RequestLogEntry] = []
        self.injector = FaultInjector(config.faults)
        rps = config.rate_limit_rps
        burst = config.rate_limit_burst or max(1, math.ceil(rps or 1))
        self.bucket = TokenBucket(rps, burst) if rps else None
        self.cu_used: dict[str, int] = {}
        self.webhooks = helius.WebhookStore(config.helius_state_path)
        self._lock = threading.Lock()
        # the sandbox's own cost (serving BirdEye requests), apart from its callers'
        self.serve_seconds = 0.0

    def log(self, request: Request, status: int) -> None:
        params = {k: ("***" if k == "api-key" else v) for k, v in request.query_params.items()}
        entry = RequestLogEntry(request.method, request.url.path, params, status, time.time())
        with self._lock:
            self.request_log.append(entry)

    def charge(self, account: str, cost: int) -> bool:
        limit = self.config.compute_units
        if limit is None:
            return True
        with self._lock:
            used = self.cu_used.get(account, 0)
            if used + cost > limit:
                return False
            self.cu_used[account] = used + cost
            return True


BirdEyeHandler = Callable[[Request, "birdeye.Ctx"], Awaitable[tuple[Any, int]]]


def _birdeye_route(
    gate: Gate, endpoint: str, handler: BirdEyeHandler
) -> Callable[[Request], Awaitable[Response]]:
    config = gate.config

    async def route(request: Request) -> Response:
        status = 500
        started = time.perf_counter()
        try:
            response = await _serve(request)
            status = response.status_code
            return response
        finally:
            gate.log(request, status)
            # handlers never await while computing, so this is the sandbox's own time
            # (a slow-answer fault's sleep included)
            gate.serve_seconds += time.perf_counter() - started

    async def _serve(request: Request) -> Response:
        key = request.headers.get("x-api-key", "")
        if not key or (config.api_key is not None and key != config.api_key):
            return json_response({"success": False, "message": "Unauthorized"}, 401)
        if gate.bucket is not None:
            wait = gate.bucket.take(key)
            if wait > 0:
                return json_response(
                    {"success": False, "message": "Too many requests"},
                    429,
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
        try:
            ctx = await birdeye.Ctx.build(request, gate, endpoint)
        except ApiError as exc:
            return json_response({"success": False, "message": exc.message}, exc.status)
        cost = CU_COSTS[endpoint] * (ctx.units or 1)
        if not gate.charge(key, cost):
            return json_response(
                {"success": False, "message": "Compute units usage limit exceeded"}, 400
            )
        fault = gate.injector.transient(ctx.request_key)
        faults = config.faults
        if fault == "server_error":
            return json_response({"success": False, "message": "Internal server error"}, 500)
        if fault == "rate_limit":
            return json_response(
                {"success": False, "message": "Too many requests"},
                429,
                {"Retry-After": str(faults.retry_after_seconds)},
            )
        if fault in ("slow", "timeout"):
            await asyncio.sleep(faults.slow_seconds if fault == "slow" else faults.timeout_seconds)
        if fault == "non_json_body":
            return Response(
                "<html><body>502 Bad Gateway</body></html>", 200, media_type="text/html"
            )
        # a body the client never reads (cut short, or after its timeout) injects nothing
        ctx.log_injections = fault not in ("truncated_body", "timeout")
        try:
            payload, code = await handler(request, ctx)
        except ApiError as exc:
            return json_response(
                {"success": False, "message": exc.message}, exc.status, exc.headers
            )
        response = json_response(payload, code)
        if fault == "truncated_body":
            body = bytes(response.body)
            return Response(body[: len(body) // 2], 200, media_type="application/json")
        return response

    return route


def create_app(config: SandboxConfig) -> Starlette:
    """A fresh app (its own request log, quotas and fault counters) over the seed's market."""
    get_market(config.seed, config.size)  # build the universe now, not inside a request
    gate = Gate(config)
    routes = [
        Route(
            "/defi/v3/token/list",
            _birdeye_route(gate, "/defi/v3/token/list", birdeye.token_list),
            methods=["GET"],
        ),
        Route(
            "/defi/v3/token/holder",
            _birdeye_route(gate, "/defi/v3/token/holder", birdeye.token_holders),
            methods=["GET"],
        ),
        Route(
            "/trader/txs/seek_by_time",
            _birdeye_route(gate, "/trader/txs/seek_by_time", birdeye.trader_txs),
            methods=["GET"],
        ),
        Route(
            "/defi/multi_price",
            _birdeye_route(gate, "/defi/multi_price", birdeye.multi_price),
            methods=["GET", "POST"],
        ),
        Route(
            "/defi/token_overview",
            _birdeye_route(gate, "/defi/token_overview", birdeye.token_overview),
            methods=["GET"],
        ),
        *helius.routes(gate),
        *webhooks.routes(gate),
    ]
    app = Starlette(routes=routes)
    app.state.config = config
    app.state.gate = gate
    app.state.request_log = gate.request_log
    app.state.injected = gate.injector.log
    app.state.market = get_market(config.seed, config.size)
    app.state.webhooks = gate.webhooks
    return app


_SHARED: dict[tuple[Any, ...], Starlette] = {}
_SHARED_LOCK = threading.Lock()


def shared_app(
    seed: int, faults_spec: str | None = None, size: MarketSize | None = None, **kw: Any
) -> Starlette:
    """One app per process for the same (seed, fault spec, size, options); no size: the one
    the environment sets."""
    size = size or size_from_env()
    key = (seed, faults_spec or "", size, tuple(sorted(kw.items())))
    with _SHARED_LOCK:
        app = _SHARED.get(key)
        if app is None:
            faults = FaultConfig.parse(faults_spec)
            config = SandboxConfig(seed=seed, faults=faults, size=size, **kw)
            app = _SHARED[key] = create_app(config)
        return app
