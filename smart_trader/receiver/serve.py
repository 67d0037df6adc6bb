"""`smart-trader receiver serve`: the receiver under uvicorn, configured from the environment."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

import uvicorn

from smart_trader.receiver.app import AUTH_ENV, ReceiverConfig, create_app
from smart_trader.resources.lake import LakeConfig

SPOOL_ENV = "SMART_TRADER_RECEIVER_SPOOL"
DEFAULT_SPOOL_DIR = "data/receiver_spool"


def receiver_config(
    spool_dir: str | None, max_body_bytes: int, flush_interval_seconds: float
) -> ReceiverConfig:
    """The secret comes from HELIUS_WEBHOOK_AUTH only (never a flag: flags show in `ps`)."""
    secret = os.environ.get(AUTH_ENV, "")
    if not secret:
        raise SystemExit(f"{AUTH_ENV} is not set: the receiver needs the webhook's authHeader")
    return ReceiverConfig(
        spool_dir=Path(spool_dir or os.environ.get(SPOOL_ENV) or DEFAULT_SPOOL_DIR).resolve(),
        lake=LakeConfig().lake(),
        auth_header=secret,
        max_body_bytes=max_body_bytes,
        flush_interval_seconds=flush_interval_seconds,
    )


def serve(host: str, port: int, config: ReceiverConfig, log_level: str = "info") -> None:
    """uvicorn's access log (a line per request) only at debug: at 200 deliveries/s it would cost
    the request path CPU for lines that say nothing the spool and /healthz do not."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    app = create_app(config)
    # What the imports allocated (~180k objects: polars, deltalake, pydantic, starlette) lives as
    # long as the process: out of the collector's generations, a full collection no longer walks
    # it (measured ~110-180 ms on this machine under load, a stall of every request in flight).
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level.lower() == "debug",
    )
