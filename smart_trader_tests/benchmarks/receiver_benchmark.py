"""The webhook receiver under a bounded load on loopback.

First the choice of durable store, measured: N sequential appends of one 100-item delivery as
an fsync'd spool record, and as a Delta append of its webhook_events rows (p50/p99 each).

Then the load: `smart-trader receiver serve` in a child process; 100-item bodies (Helius-shaped
enhanced transactions, ~1 kB each) posted at a fixed rate for DURATION seconds over a pool of
keep-alive connections, RESEND_SHARE of them posted a second time (Helius delivers at least
once). Prints the achieved rate, p50/p99/max time to the 200, then, once the flusher has written
everything, the events lost (acknowledged but not in bronze/webhook_events) and duplicated (rows
beyond one per signature and wallet). Goal: p99 < 100 ms at 200 posts/s, nothing lost or
duplicated.

    .venv/bin/python smart_trader_tests/benchmarks/receiver_benchmark.py [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from smart_trader import schemas
from smart_trader.lake import Lake
from smart_trader.receiver.flusher import append_rows
from smart_trader.receiver.frames import Received, events_frame
from smart_trader.receiver.parse import parse_item
from smart_trader.receiver.spool import Spool
from smart_trader_tests.receiver_server import (
    SECRET,
    free_port,
    kill,
    start_receiver_process,
    wait_flushed,
    wait_ready,
)

ITEMS_PER_BODY = 100
WALLET = "MASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTA"
POOL = "yNoVKf58ZTBqNAYT3j5qcdsyuMNmPfYetW5v6JXmj54o"
MINT = "b8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaY"
_TEMPLATE = json.dumps(
    {
        "description": "",
        "type": "SWAP",
        "source": "RAYDIUM",
        "fee": 5000,
        "feePayer": WALLET,
        "signature": "@SIG@",
        "slot": 359226070,
        "timestamp": 1773446460,
        "nativeTransfers": [
            {"fromUserAccount": WALLET, "toUserAccount": POOL, "amount": 1500000000}
        ],
        "tokenTransfers": [
            {
                "fromUserAccount": POOL,
                "toUserAccount": WALLET,
                "fromTokenAccount": "Xgzg2nqJ5Kx1D4wT7wH3aGhHfE2qQeLsBkQnG4oTv94",
                "toTokenAccount": "mLidkuVKnRyjP2WPBg8Y4ErK9pGSSxY6BVScJy9uUxcJ",
                "tokenAmount": 18300.0,
                "mint": MINT,
                "tokenStandard": "Fungible",
            }
        ],
        "accountData": [
            {"account": WALLET, "nativeBalanceChange": -1500005000, "tokenBalanceChanges": []}
        ],
        "transactionError": None,
        "instructions": [],
        "events": {},
    }
)


def signature(body: int, item: int) -> str:
    """88 characters, like a base58 transaction signature, unique per (body, item)."""
    return f"bench{body:08d}x{item:03d}".ljust(88, "Z")


def body_bytes(body: int) -> bytes:
    items = (_TEMPLATE.replace("@SIG@", signature(body, i)) for i in range(ITEMS_PER_BODY))
    return ("[" + ",".join(items) + "]").encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def compare_stores(directory: Path, n: int) -> None:
    """The durable step alone, both ways, on the same disk."""
    body = body_bytes(0)
    spool = Spool(directory / "spool")
    spool_ms = []
    for _ in range(n):
        t = time.perf_counter()
        spool.append(body).result()
        spool_ms.append((time.perf_counter() - t) * 1e3)
    spool.close()
    lake = Lake(str(directory / "lake"))
    uri = lake.table_uri(schemas.WEBHOOK_EVENTS)
    delta_ms = []
    received_at = dt.datetime.now(dt.UTC)
    for k in range(n):
        items = [
            Received(parse_item(_TEMPLATE.replace("@SIG@", signature(k, i))), received_at)
            for i in range(ITEMS_PER_BODY)
        ]
        t = time.perf_counter()
        append_rows(lake, schemas.WEBHOOK_EVENTS, events_frame(items))
        delta_ms.append((time.perf_counter() - t) * 1e3)
    print(
        f"durable store, {n} sequential 100-item deliveries each:\n"
        f"  spool (fsync'd append): p50 {percentile(spool_ms, 0.5):.2f} ms, "
        f"p99 {percentile(spool_ms, 0.99):.2f} ms\n"
        f"  Delta append of its rows to {uri} (parsing not timed): "
        f"p50 {percentile(delta_ms, 0.5):.2f} ms, p99 {percentile(delta_ms, 0.99):.2f} ms"
    )


async def load(url: str, rate: float, duration: float, resend_share: float) -> dict[str, object]:
    n = int(rate * duration)
    resend_every = max(1, round(1 / resend_share)) if resend_share > 0 else 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    acknowledged: set[int] = set()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": SECRET, "Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=30.0, headers=headers) as client:

        async def post(body: int) -> None:
            content = body_bytes(body)
            t = time.perf_counter()
            try:
                r = await client.post(f"{url}/helius", content=content)
                status = r.status_code
            except httpx.HTTPError:
                status = 0
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                acknowledged.add(body)

        tasks = []
        start = time.perf_counter()
        for k in range(n):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = k - 1 if resend_every and k % resend_every == 0 and k > 0 else k
            tasks.append(asyncio.create_task(post(body)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "posts": len(tasks),
        "elapsed": elapsed,
        "latencies": latencies,
        "statuses": statuses,
        "acknowledged": acknowledged,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0, help="posts per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--resend-share", type=float, default=0.01)
    parser.add_argument("--store-samples", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="receiver-bench-", dir=os.environ.get("TMPDIR")) as d:
        root = Path(d)
        compare_stores(root / "compare", args.store_samples)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        lake_uri = str(root / "lake")
        process = start_receiver_process(root / "spool", lake_uri, port)
        try:
            wait_ready(url, process=process)
            result = asyncio.run(load(url, args.rate, args.duration, args.resend_share))
            drain_start = time.perf_counter()
            wait_flushed(url, timeout=1800)
            drain = time.perf_counter() - drain_start
        finally:
            kill(process)
        latencies = result["latencies"]
        assert isinstance(latencies, list)
        acknowledged = result["acknowledged"]
        assert isinstance(acknowledged, set)
        stored = (
            Lake(lake_uri).scan(schemas.WEBHOOK_EVENTS).select("signature", "wallet_address")
        ).collect()
        expected = {signature(b, i) for b in acknowledged for i in range(ITEMS_PER_BODY)}
        found = set(stored.get_column("signature").to_list())
        lost = len(expected - found)
        duplicated = stored.height - stored.unique().height
        posts = result["posts"]
        elapsed = result["elapsed"]
        assert isinstance(posts, int) and isinstance(elapsed, float)
        print(
            f"load: {posts} posts of {ITEMS_PER_BODY} items in {elapsed:.1f} s: "
            f"{posts / elapsed:.1f} posts/s (target {args.rate:g}), statuses {result['statuses']}\n"
            f"  time to the 200: p50 {statistics.median(latencies) * 1e3:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1e3:.1f} ms, max {max(latencies) * 1e3:.1f} ms\n"
            f"  flusher drained {drain:.1f} s after the last post; "
            f"{stored.height} webhook_events rows for {len(expected)} acknowledged events\n"
            f"  lost {lost}, duplicated {duplicated}"
        )
        ok = percentile(latencies, 0.99) < 0.1 and lost == 0 and duplicated == 0
        print("goal (p99 < 100 ms, nothing lost, nothing duplicated):", "met" if ok else "NOT met")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
