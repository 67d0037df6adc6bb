"""Parsed webhook items as the lake's frames: webhook_events, live_swaps, rejected_records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from smart_trader import schemas
from smart_trader.receiver.parse import (
    ENDPOINT,
    LIVE_INNER_INS_INDEX,
    LIVE_INS_INDEX,
    Event,
    Rejected,
)


@dataclass(frozen=True)
class Received:
    """A parsed item and when its delivery was received."""

    item: Event | Rejected
    received_at: dt.datetime


def events_frame(received: Sequence[Received]) -> pl.DataFrame:
    rows = [(r.item, r.received_at) for r in received if isinstance(r.item, Event)]
    frame = pl.DataFrame(
        {
            "block_date": [e.block_time.date() for e, _ in rows],
            "signature": [e.signature for e, _ in rows],
            "wallet_address": [e.wallet_address for e, _ in rows],
            "block_time": [e.block_time for e, _ in rows],
            "slot": [e.slot for e, _ in rows],
            "type": [e.type for e, _ in rows],
            "source": [e.source for e, _ in rows],
            "fee_lamports": [e.fee_lamports for e, _ in rows],
            "transaction_error": [e.transaction_error for e, _ in rows],
            "swap_status": [e.swap_status for e, _ in rows],
            "raw_item": [e.raw_item for e, _ in rows],
            "received_at": [at for _, at in rows],
        },
        schema=schemas.WEBHOOK_EVENTS.schema,
    )
    return frame


def swaps_frame(received: Sequence[Received]) -> pl.DataFrame:
    """One live swap per event with a swap; Helius gives no symbols or USD prices."""
    rows = [
        (r.item, r.received_at)
        for r in received
        if isinstance(r.item, Event) and r.item.swap is not None
    ]
    swaps = [e.swap for e, _ in rows if e.swap is not None]
    n = len(rows)
    return pl.DataFrame(
        {
            "block_date": [e.block_time.date() for e, _ in rows],
            "block_time": [e.block_time for e, _ in rows],
            "block_number": [e.slot for e, _ in rows],
            "tx_hash": [e.signature for e, _ in rows],
            "ins_index": [LIVE_INS_INDEX] * n,
            "inner_ins_index": [LIVE_INNER_INS_INDEX] * n,
            "wallet_address": [e.wallet_address for e, _ in rows],
            "source": [(e.source or "unknown").lower() for e, _ in rows],
            "sold_token_address": [s.sold_token_address for s in swaps],
            "sold_token_symbol": [""] * n,
            "sold_amount": [s.sold_amount for s in swaps],
            "sold_price_usd": [None] * n,
            "bought_token_address": [s.bought_token_address for s in swaps],
            "bought_token_symbol": [""] * n,
            "bought_amount": [s.bought_amount for s in swaps],
            "bought_price_usd": [None] * n,
            "fetched_at": [at for _, at in rows],
            "fetch_truncated": [False] * n,
        },
        schema=schemas.LIVE_SWAPS.schema,
    )


def rejected_frame(received: Sequence[Received]) -> pl.DataFrame:
    """Rejected items by the day they were received (a malformed item may have no block time)."""
    rows = [(r.item, r.received_at) for r in received if isinstance(r.item, Rejected)]
    return pl.DataFrame(
        {
            "ingest_date": [at.date() for _, at in rows],
            "endpoint": [ENDPOINT] * len(rows),
            "reason": [item.reason for item, _ in rows],
            "raw_record": [item.raw_record for item, _ in rows],
            "fetched_at": [at for _, at in rows],
            "asset": [None] * len(rows),  # not a bronze asset's fetch
        },
        schema=schemas.REJECTED_RECORDS.schema,
    )
