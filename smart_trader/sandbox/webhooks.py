"""Delivery of enhanced SWAP events to the registered Helius webhooks (external-apis.md §3.5).

`deliver_swaps` sends, for every stored webhook that asks for SWAP (or ANY), the swaps of its
account addresses with block time in (start, end]: JSON arrays of enhanced transactions, the
webhook's authHeader echoed verbatim as `Authorization`, up to 3 attempts per batch.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smart_trader.sandbox.errors import ApiError, json_response
from smart_trader.sandbox.helius import WebhookStore, helius_guard
from smart_trader.sandbox.market import Market, day_end, get_market
from smart_trader.sandbox.tokens import SOL
from smart_trader.sandbox.wallets import DEXES, KIND_SWAP, SwapTable, slot_of

if TYPE_CHECKING:
    from smart_trader.sandbox.app import Gate

ATTEMPTS = 3
BATCH = 100
FEE_LAMPORTS = 5000


@dataclass
class DeliveryReport:
    webhooks: int = 0
    events: int = 0
    posts: int = 0
    failed_posts: int = 0
    attempts: int = 0


def enhanced_events(market: Market, wallet: str, start: int, end: int) -> list[dict[str, Any]]:
    """Enhanced SWAP transactions of `wallet` with start < block time <= end, oldest first."""
    rows = market.wallet_swaps(wallet, start + 1, end)
    if rows is None or rows.size == 0:
        return []
    rows = rows.take(((rows.kind == KIND_SWAP).nonzero()[0])[::-1])
    events: list[dict[str, Any]] = []
    i = 0
    while i < rows.size:
        j = i
        while j + 1 < rows.size and rows.tx[j + 1] == rows.tx[i]:
            j += 1
        events.append(_event(market, rows, list(range(i, j + 1)), wallet))
        i = j + 1
    return events


def _event(market: Market, rows: SwapTable, idx: list[int], owner: str) -> dict[str, Any]:
    tok, pop = market.tokens, market.population
    native: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    native_in = native_out = 0
    inner: list[dict[str, Any]] = []
    for i in idx:
        pool = pop.pool_addresses[int(rows.pool[i])]
        dex = DEXES[pop.pool_dex[int(rows.pool[i])]]
        for asset, raw, spent in (
            (int(rows.sold[i]), int(rows.sold_raw[i]), True),
            (int(rows.bought[i]), int(rows.bought_raw[i]), False),
        ):
            src, dst = (owner, pool) if spent else (pool, owner)
            if asset == SOL:
                native.append({"fromUserAccount": src, "toUserAccount": dst, "amount": raw})
                if spent:
                    native_in += raw
                else:
                    native_out += raw
                continue
            dec = int(tok.asset_decimals[asset])
            mint = tok.addresses[asset]
            transfers.append(
                {
                    "fromUserAccount": src,
                    "toUserAccount": dst,
                    "tokenAmount": raw / 10**dec,
                    "mint": mint,
                    "tokenStandard": "Fungible",
                }
            )
            balance = {
                "userAccount": owner,
                "mint": mint,
                "rawTokenAmount": {"tokenAmount": str(raw), "decimals": dec},
            }
            (inputs if spent else outputs).append(balance)
        inner.append(
            {
                "tokenInputs": [],
                "tokenOutputs": [],
                "tokenFees": [],
                "nativeFees": [],
                "programInfo": {
                    "source": dex[0].upper(),
                    "account": dex[1],
                    "programName": dex[0].upper(),
                    "instructionName": "swap",
                },
            }
        )
    first = idx[0]
    t = int(rows.t[first])
    first_dex = DEXES[pop.pool_dex[int(rows.pool[first])]][0].upper()
    return {
        "description": f"{owner} swapped on {first_dex}",
        "type": "SWAP",
        "source": first_dex,
        "fee": FEE_LAMPORTS,
        "feePayer": owner,
        "signature": market.tx_hash(int(rows.tx[first])),
        "slot": slot_of(t),
        "timestamp": t,
        "nativeTransfers": native,
        "tokenTransfers": transfers,
        "accountData": [
            {
                "account": owner,
                "nativeBalanceChange": native_out - native_in - FEE_LAMPORTS,
                "tokenBalanceChanges": [],
            }
        ],
        "transactionError": None,
        "instructions": [],
        "events": {
            "swap": {
                "nativeInput": {"account": owner, "amount": str(native_in)} if native_in else None,
                "nativeOutput": {"account": owner, "amount": str(native_out)}
                if native_out
                else None,
                "tokenInputs": inputs,
                "tokenOutputs": outputs,
                "tokenFees": [],
                "nativeFees": [],
                "innerSwaps": inner,
            }
        },
    }


async def deliver_swaps(
    market: Market,
    store: WebhookStore,
    start: int,
    end: int,
    client: httpx.AsyncClient,
    retry_seconds: float = 1.0,
) -> DeliveryReport:
    report = DeliveryReport()
    for hook in store.load().values():
        if not {"SWAP", "ANY"} & set(hook["transactionTypes"]):
            continue
        report.webhooks += 1
        events: list[dict[str, Any]] = []
        for wallet in hook["accountAddresses"]:
            events += enhanced_events(market, wallet, start, end)
        events.sort(key=lambda e: (e["timestamp"], e["signature"]))
        report.events += len(events)
        headers = {"Authorization": hook["authHeader"]} if hook.get("authHeader") else {}
        for k in range(0, len(events), BATCH):
            report.posts += 1
            for attempt in range(ATTEMPTS):
                report.attempts += 1
                try:
                    r = await client.post(
                        hook["webhookURL"], json=events[k : k + BATCH], headers=headers
                    )
                    if r.status_code < 300:
                        break
                except httpx.HTTPError:
                    pass
                if attempt + 1 < ATTEMPTS:
                    await asyncio.sleep(retry_seconds)
            else:
                report.failed_posts += 1  # dropped after 3 attempts, as Helius does
    return report


def routes(gate: Gate) -> list[Route]:
    """`POST /sandbox/helius/deliver?api-key=K` with `{"start": s, "end": e}` (unix seconds):
    deliver the window's swaps to every webhook now (a sandbox-only endpoint; the real Helius
    pushes as blocks land)."""

    async def deliver(request: Request, key: str) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            start, end = int(body["start"]), int(body["end"])
            retry = float(body.get("retry_seconds", 1.0))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise ApiError(400, 'body must be {"start": int, "end": int}') from None
        market = get_market(gate.config.seed, gate.config.size)
        async with httpx.AsyncClient(timeout=10.0) as client:
            report = await deliver_swaps(market, gate.webhooks, start, end, client, retry)
        return json_response(asdict(report))

    return [Route("/sandbox/helius/deliver", helius_guard(gate, deliver), methods=["POST"])]


def deliver_day(
    seed: int, state_path: str, day: date, retry_seconds: float = 1.0
) -> DeliveryReport:
    """The swaps of UTC `day` to every webhook stored in `state_path`, now: what Helius would
    have pushed as the day's blocks landed (`smart-trader sandbox deliver`)."""

    async def run() -> DeliveryReport:
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await deliver_swaps(
                get_market(seed),
                WebhookStore(state_path),
                day_end(day - timedelta(days=1)),
                day_end(day),
                client,
                retry_seconds,
            )

    return asyncio.run(run())
