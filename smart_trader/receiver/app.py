"""The webhook receiver: `POST /helius` (Helius deliveries) and `GET /healthz`.

A delivery is answered 200 only once its body is fsync'd to the spool; parsing and lake writes
happen afterwards, in the flusher (a child process). Helius wants an answer within about a
second, retries a few times on 5xx and timeouts, then drops the event (external-apis.md §3.5,
§7), so the request path does the least that makes the body safe: check the secret, bound the
size, check it is a JSON array, append it.

Answers: 401 for a missing or wrong Authorization (compared in constant time with the secret;
the header is never logged), 413 above the size limit, 400 for a body that is not a JSON array,
503 if the spool cannot be written (Helius retries), else 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from pydantic_core import SchemaValidator, ValidationError, core_schema
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smart_trader.lake import Lake
from smart_trader.receiver.flusher import flush_error, run_flusher
from smart_trader.receiver.spool import Spool, load_cursor

AUTH_ENV = "HELIUS_WEBHOOK_AUTH"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024

_logger = logging.getLogger(__name__)

# Is the body a JSON array? pydantic-core's parser reads all of it (any syntax error, invalid
# UTF-8 or nesting deeper than its limit fails) but the items are not built: an object validates
# as an empty typed dict, anything else as itself. On a 100-item delivery that is about a fifth
# of json.loads's CPU; the flusher decodes the items after the answer.
_JSON_ARRAY = SchemaValidator(
    core_schema.list_schema(
        core_schema.union_schema(
            [core_schema.typed_dict_schema({}), core_schema.any_schema()], mode="left_to_right"
        )
    )
)


@dataclass(frozen=True)
class ReceiverConfig:
    spool_dir: Path
    lake: Lake
    auth_header: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    flush_interval_seconds: float = 0.5

    def __post_init__(self) -> None:
        if not self.auth_header:
            raise ValueError(f"{AUTH_ENV} is empty: the receiver needs the webhook's authHeader")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be > 0")

    def __repr__(self) -> str:  # never show the secret
        return f"ReceiverConfig(spool_dir={self.spool_dir!s}, lake={self.lake.root})"


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(config: ReceiverConfig) -> Starlette:
    secret = config.auth_header.encode()
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        spool = Spool(config.spool_dir)
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        flusher = context.Process(
            target=run_flusher,
            args=(
                config.spool_dir,
                config.lake,
                spool.cell,
                stop,
                config.flush_interval_seconds,
                os.getpid(),
            ),
            name="receiver-flusher",
        )
        flusher.start()
        state.update(spool=spool, flusher=flusher)
        _logger.info("receiver ready: spool %s, lake %s", config.spool_dir, config.lake.root)
        try:
            yield
        finally:
            stop.set()  # the flusher writes what is still spooled, then exits
            await asyncio.to_thread(flusher.join)
            spool.close()

    async def helius(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, secret):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _BodyTooLarge:
            return JSONResponse(
                {"error": f"body larger than {config.max_body_bytes} bytes"}, status_code=413
            )
        try:
            items = _JSON_ARRAY.validate_json(body)
        except ValidationError as exc:
            invalid = exc.errors()[0]["type"] == "json_invalid"
            error = "body is not JSON" if invalid else "body is not a JSON array"
            return JSONResponse({"error": error}, status_code=400)
        spool: Spool = state["spool"]
        try:
            await asyncio.wrap_future(spool.append(body))
        except OSError:
            _logger.exception("spool append failed")
            return JSONResponse({"error": "could not store the delivery"}, status_code=503)
        return JSONResponse({"received": len(items)})

    async def healthz(request: Request) -> Response:
        spool: Spool | None = state.get("spool")
        flusher: BaseProcess | None = state.get("flusher")
        if spool is None or flusher is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        if not flusher.is_alive():
            return JSONResponse({"status": "flusher stopped"}, status_code=503)
        durable, cursor = spool.durable, load_cursor(config.spool_dir)
        return JSONResponse(
            {
                "status": "ok",
                "spooled": [durable.segment, durable.offset],
                "flushed": [cursor.segment, cursor.offset],
                "flush_pending": cursor < durable,
                "flush_error": flush_error(config.spool_dir),
            }
        )

    return Starlette(
        routes=[
            Route("/helius", helius, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
