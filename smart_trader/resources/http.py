"""The HTTP machinery both API clients share: rate limiting, retries, redaction, clear errors.

One `ApiSession` lives for one fetch (one event loop). Every request, first try or retry, takes a
token from one shared bucket sized to the plan's requests per second, so many concurrent
requests together stay under the plan's limit instead of provoking 429s. Transient failures
(429, 5xx, timeouts, broken connections, bodies that are not the promised JSON) are retried with
exponential backoff and jitter, honouring Retry-After; a request the server refuses on its merits
(400/401/403/404...) fails at once. The session counts requests, retries, 429s, 5xx answers and
transport errors per endpoint (`RequestStats.as_metadata`, which the bronze assets put in their
materialization metadata). Every message that leaves this module is redacted: API keys never
reach logs, exceptions or metadata.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, TypeVar

import httpx
import stamina

from smart_trader.resources.pacer import Pacer

T = TypeVar("T")

REDACTED = "***"
COMPUTE_UNITS_MESSAGE = "Compute units usage limit exceeded"
# Query parameters and headers that carry credentials in either API.
_SECRET_PATTERN = re.compile(
    r"(?i)((?:api[-_]key|x-api-key|apikey|token)[\"']?\s*[=:]\s*[\"']?)([^&\s\"',}]+)"
)
_DETAIL_CHARS = 300
RATE_HEADROOM = 0.98


class LogLike(Protocol):
    """Dagster's context.log or a logging.Logger."""

    def info(self, msg: str) -> None: ...


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """The text with every known secret and every api-key-looking value replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)


class _RedactingFilter(logging.Filter):
    """httpx logs full request URLs at INFO; Helius puts its key in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_RedactingFilter())

# stamina prints a line per retry (through structlog, past logging's levels); the clients' progress
# lines and materialization metadata already count retries and 429s.
stamina.instrumentation.set_on_retry_hooks([])


class ApiError(Exception):
    """A request failed; the message names the service, endpoint and status, never a key, and
    what was being fetched when the caller said (`subject`: a wallet and its time range...)."""

    def __init__(
        self,
        service: str,
        endpoint: str,
        status: int | None,
        detail: str,
        subject: str | None = None,
    ) -> None:
        self.service = service
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        self.subject = subject
        where = f"{service} {endpoint}"
        status_text = f"HTTP {status}" if status is not None else "no response"
        fetching = f"; fetching {subject}" if subject else ""
        super().__init__(f"{where}: {status_text}: {detail}{fetching}")


class RequestRejected(ApiError):
    """The server refused the request on its merits (4xx other than 408/429); not retried."""


class ComputeUnitsExhausted(RequestRejected):
    """BirdEye's compute-unit quota is used up (HTTP 400); retrying cannot help until it resets."""


class InvalidResponse(ApiError):
    """The answer was not what the API promises (not JSON, truncated, wrong envelope)."""


class RetriesExhausted(ApiError):
    """429s, 5xx answers or timeouts went on past the retry budget."""


class BodyInvalid(Exception):
    """Raised by a response parser: the body is not the promised shape (retried)."""


class BodyRefused(Exception):
    """Raised by a response parser: a 2xx body carries an error (final, not retried)."""


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


@dataclass
class WireCounts:
    """Requests and faults of one endpoint, or of a whole session."""

    requests: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0

    def add(self, other: WireCounts) -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.statuses.update(other.statuses)
        self.transport_errors += other.transport_errors

    def as_metadata(self, prefix: str = "") -> dict[str, int]:
        return {
            f"{prefix}http_requests": self.requests,
            f"{prefix}http_retries": self.retries,
            f"{prefix}http_429": self.statuses.get(429, 0),
            f"{prefix}http_5xx": sum(n for status, n in self.statuses.items() if status >= 500),
            f"{prefix}http_transport_errors": self.transport_errors,
        }


@dataclass
class RequestStats:
    """What the session did on the wire, per endpoint and in total, for progress logs,
    materialization metadata and the benchmark."""

    endpoints: dict[str, WireCounts] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    first_sent: float | None = None
    last_answered: float | None = None

    def of(self, endpoint: str) -> WireCounts:
        return self.endpoints.setdefault(endpoint, WireCounts())

    @property
    def total(self) -> WireCounts:
        total = WireCounts()
        for counts in self.endpoints.values():
            total.add(counts)
        return total

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def wire_seconds(self) -> float:
        """From the first request sent to the last answer received."""
        if self.first_sent is None or self.last_answered is None:
            return 0.0
        return self.last_answered - self.first_sent

    def as_metadata(self) -> dict[str, int | float]:
        """Totals (`http_retries`...), then per endpoint (`/defi/multi_price http_retries`...),
        keyed like the bronze assets' record counts (`/defi/multi_price stored`)."""
        metadata: dict[str, int | float] = dict(self.total.as_metadata())
        for endpoint, counts in sorted(self.endpoints.items()):
            metadata |= counts.as_metadata(f"{endpoint} ")
        metadata["http_seconds"] = round(self.elapsed, 3)
        metadata["http_wire_seconds"] = round(self.wire_seconds, 3)
        return metadata


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


def error_detail(body: bytes) -> str:
    """The human part of an error body: BirdEye `message`, Helius `error` (string or object)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:_DETAIL_CHARS].decode("utf-8", "replace").strip() or "empty body"
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            code = error.get("code")
            text = f"{message}" + (f" (code {code})" if code is not None else "")
            return text[:_DETAIL_CHARS]
        if isinstance(error, str):
            return error[:_DETAIL_CHARS]
        message = parsed.get("message")
        if isinstance(message, str):
            return message[:_DETAIL_CHARS]
    return json.dumps(parsed)[:_DETAIL_CHARS]


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


class Progress:
    """Logs done/total, pages, rows and request rate every `every` units of work."""

    def __init__(
        self, log: LogLike | None, what: str, total: int, every: int, stats: RequestStats
    ) -> None:
        self._log = log
        self._what = what
        self._total = total
        self._every = max(every, 1)
        self._stats = stats
        self.done = 0
        self.pages = 0
        self.rows = 0

    def page(self, rows: int) -> None:
        self.pages += 1
        self.rows += rows

    def unit_done(self) -> None:
        self.done += 1
        if self.done % self._every == 0 or self.done == self._total:
            self.report()

    def report(self) -> None:
        if self._log is None:
            return
        total, elapsed = self._stats.total, self._stats.elapsed
        self._log.info(
            f"{self._what}: {self.done}/{self._total} done, {self.pages} pages, {self.rows} rows, "
            f"{total.requests} requests in {elapsed:.1f}s "
            f"({total.requests / elapsed:.1f}/s), {total.retries} retries, "
            f"{total.statuses.get(429, 0)} x 429"
        )


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
