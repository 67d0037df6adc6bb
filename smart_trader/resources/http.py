"""The HTTP session both API clients share: rate limiting, retries, clear and redacted errors.

One `ApiSession` lives for one fetch (one event loop). Every request, first try or retry, takes a
token from one shared bucket sized to the plan's requests per second, so many concurrent
requests together stay under the plan's limit instead of provoking 429s. Transient failures
(429, 5xx, timeouts, broken connections, bodies that are not the promised JSON) are retried with
exponential backoff and jitter, honouring Retry-After; a request the server refuses on its merits
(400/401/403/404...) fails at once. The session counts requests, retries, 429s, 5xx answers and
transport errors per endpoint (`RequestStats.as_metadata`, which the bronze assets put in their
materialization metadata; wire_stats.py). Every message that leaves this module is redacted
(redaction.py): API keys never reach logs, exceptions or metadata.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import httpx
import stamina

from smart_trader.resources.api_errors import (
    COMPUTE_UNITS_MESSAGE,
    ApiError,
    BodyInvalid,
    BodyRefused,
    ComputeUnitsExhausted,
    InvalidResponse,
    RequestRejected,
    RetriesExhausted,
    error_detail,
)
from smart_trader.resources.pacer import Pacer
from smart_trader.resources.redaction import redact
from smart_trader.resources.wire_stats import RequestStats, WireCounts

T = TypeVar("T")

RATE_HEADROOM = 0.98


# stamina prints a line per retry (through structlog, past logging's levels); the clients' progress
# lines and materialization metadata already count retries and 429s.
stamina.instrumentation.set_on_retry_hooks([])


class _Transient(Exception):
    """One failed attempt that may succeed when tried again."""

    def __init__(self, final: ApiError, retry_after: float | None = None) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    backoff_initial_seconds: float = 0.25
    backoff_max_seconds: float = 10.0
    backoff_jitter_seconds: float = 0.5
    max_retry_after_seconds: float = 60.0

    @classmethod
    def of(cls, settings: object) -> RetryPolicy:
        """The policy from a client's fields of the same names."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


class ApiSession:
    """An httpx.AsyncClient with a shared token bucket, a concurrency cap and retries.

    Use as `async with ApiSession(...) as session:`; all requests of one fetch share its bucket.
    """

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        secrets: Iterable[str | None],
        requests_per_second: float | None,
        max_concurrency: int,
        timeout_seconds: float,
        retry: RetryPolicy,
    ) -> None:
        self.service = service
        self._base_url = base_url
        self._transport = transport
        self._headers = dict(headers)
        self._query = dict(query)
        self._secrets = [s for s in secrets if s]
        # Requests leave evenly spaced, never in a burst the server's own bucket might not
        # have room for, and a little under the plan's rate, so that the server's bucket
        # refills what network jitter (two requests arriving closer than sent) takes from it.
        self._pacer = Pacer(requests_per_second * RATE_HEADROOM) if requests_per_second else None
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._timeout = timeout_seconds
        self._retry = retry
        self._client: httpx.AsyncClient | None = None
        self.stats = RequestStats()

    async def __aenter__(self) -> ApiSession:
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            transport=self._transport,
            headers=self._headers,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )
        self.stats = RequestStats()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _error(self, cls: type[ApiError], call: _Call, status: int | None, detail: str) -> ApiError:
        return cls(self.service, call.endpoint, status, self.redact(detail), call.subject)

    async def request(
        self,
        method: str,
        endpoint: str,
        parse: Callable[[Any], T],
        *,
        path: str | None = None,
        params: Mapping[str, str | int | float] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        empty_ok: bool = False,
        priority: float = 0.0,
        subject: str | None = None,
    ) -> T:
        """Send until a parsed answer comes back or the failure is final.

        endpoint names the API route in errors, logs and metadata (never the query string); path
        is the concrete path when it differs (an id inside it). `parse` turns the decoded JSON
        into the result and raises BodyInvalid when the shape is wrong. A non-idempotent request
        is retried only when the server certainly did not act on it (429). Lower priority values
        get the next rate-limit slot first. subject says what is being fetched, for errors.
        """
        call = _Call(
            method, endpoint, path or endpoint, params, headers, json_body, empty_ok, subject
        )
        policy = self._retry
        counts = self.stats.of(endpoint)

        def backoff(exc: Exception) -> bool | float:
            if not isinstance(exc, _Transient):
                return False
            if not idempotent and exc.final.status != 429:
                return False
            counts.retries += 1
            if exc.retry_after is not None:
                return min(exc.retry_after, policy.max_retry_after_seconds)
            return True

        tries = 0
        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.max_retries + 1,
                timeout=None,
                wait_initial=policy.backoff_initial_seconds,
                wait_max=policy.backoff_max_seconds,
                wait_jitter=policy.backoff_jitter_seconds,
            ):
                tries = attempt.num
                with attempt:
                    return await self._attempt(call, parse, counts, priority)
        except _Transient as exc:
            final = exc.final
            if isinstance(final, InvalidResponse):
                raise final from None
            note = (
                f"gave up after {tries} attempts"
                if tries > 1 or idempotent
                else "not retried: the server may have acted on it"
            )
            raise self._error(
                RetriesExhausted, call, final.status, f"{final.detail} ({note})"
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")

    async def _attempt(
        self, call: _Call, parse: Callable[[Any], T], counts: WireCounts, priority: float
    ) -> T:
        assert self._client is not None, "use ApiSession as an async context manager"
        query = {**self._query, **(call.params or {})}
        async with self._semaphore:
            if self._pacer is not None:
                await self._pacer.acquire(priority)
            counts.requests += 1
            if self.stats.first_sent is None:
                self.stats.first_sent = time.monotonic()
            try:
                # wait_for also bounds in-process (ASGI) transports, which ignore httpx timeouts.
                response = await asyncio.wait_for(
                    self._client.request(
                        call.method,
                        call.path,
                        params=query,
                        headers=call.headers,
                        json=call.json_body,
                    ),
                    timeout=self._timeout,
                )
            except (TimeoutError, httpx.TimeoutException):
                counts.transport_errors += 1
                raise _Transient(
                    self._error(ApiError, call, None, f"timed out after {self._timeout}s")
                ) from None
            except httpx.TransportError as exc:
                counts.transport_errors += 1
                detail = f"{type(exc).__name__}: {exc}"
                raise _Transient(self._error(ApiError, call, None, detail)) from None
        status = response.status_code
        counts.statuses[status] += 1
        self.stats.last_answered = time.monotonic()
        body = response.content
        if status == 429 or status == 408 or status >= 500:
            raise _Transient(
                self._error(ApiError, call, status, error_detail(body)),
                parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 300:
            detail = error_detail(body)
            cls = ComputeUnitsExhausted if COMPUTE_UNITS_MESSAGE in detail else RequestRejected
            raise self._error(cls, call, status, detail)
        if call.empty_ok and not body.strip():
            return parse(None)
        try:
            decoded = json.loads(body)
        except ValueError:
            snippet = body[:80].decode("utf-8", "replace")
            raise _Transient(
                self._error(
                    InvalidResponse,
                    call,
                    status,
                    f"body is not valid JSON ({len(body)} bytes, starts {snippet!r})",
                )
            ) from None
        try:
            return parse(decoded)
        except BodyRefused as exc:
            detail = str(exc)
            cls = ComputeUnitsExhausted if COMPUTE_UNITS_MESSAGE in detail else RequestRejected
            raise self._error(cls, call, status, detail) from None
        except BodyInvalid as exc:
            raise _Transient(
                self._error(InvalidResponse, call, status, f"unexpected response: {exc}")
            ) from None


@dataclass(frozen=True)
class _Call:
    """One request as the caller asked for it, whatever attempt is on the wire."""

    method: str
    endpoint: str
    path: str
    params: Mapping[str, str | int | float] | None
    headers: Mapping[str, str] | None
    json_body: Any
    empty_ok: bool
    subject: str | None


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from synchronous code, also when the caller is inside an event loop
    (then in a thread of its own: a running loop cannot run another coroutine to the end)."""
    if not _loop_running():
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=worker, name="smart-trader-http")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _loop_running() -> bool:
    """Whether this thread runs an event loop. Asked apart from run_sync's work so that the
    RuntimeError asyncio answers "no" with is handled here and chained to no later error."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def gather_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Await all; the first failure cancels the rest and is raised as is (a fetch is all or
    nothing, and its error should read as the API error, not as an exception group)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
