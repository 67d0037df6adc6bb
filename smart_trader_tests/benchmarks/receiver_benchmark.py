"""The webhook receiver under a bounded load on loopback.

First the choice of durable store, measured: N sequential appends of one 100-item delivery as
an fsync'd spool record, and as a Delta append of its webhook_events rows (p50/p99 each).

Then the load: `smart-trader receiver serve` in a child process; 100-item bodies (Helius-shaped
enhanced transactions, ~1 kB each) posted at a fixed rate for DURATION seconds over a pool of
keep-alive connections, RESEND_SHARE of them posted a second time (Helius delivers at least
once). The load comes from its own process over raw asyncio streams, each request encoded
before its send starts (one bytes.replace on a template): an HTTP client library's per-request
cost at 100 kB would make the generator, not the receiver, the bottleneck on a small machine.
Time to the 200 runs from the send's start (waiting for a connection included); the lag of
each start behind its schedule is printed too, as is the CPU each process used. Prints the
achieved rate, p50/p99/max time to the 200, then, once the flusher has written
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
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

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
MAX_CONNECTIONS = 256
KEEPALIVE_REUSE_SECONDS = 2.0
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


_BODY_DIGITS = "########"  # the 8 digits of the body number in each signature


def _signature(body: str, item: int) -> str:
    return f"bench{body}x{item:03d}".ljust(88, "Z")


def signature(body: int, item: int) -> str:
    """88 characters, like a base58 transaction signature, unique per (body, item)."""
    return _signature(f"{body:08d}", item)


_BODY_TEMPLATE = (
    "["
    + ",".join(
        _TEMPLATE.replace("@SIG@", _signature(_BODY_DIGITS, i)) for i in range(ITEMS_PER_BODY)
    )
    + "]"
).encode()


def body_bytes(body: int) -> bytes:
    """Delivery number `body`: one bytes.replace on a pre-encoded template (microseconds)."""
    return _BODY_TEMPLATE.replace(_BODY_DIGITS.encode(), b"%08d" % body)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


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


@dataclass
class LoadResult:
    posts: int
    elapsed: float
    latencies: list[float]  # seconds from the send's start (connect if needed, write) to the answer
    lags: list[float]  # seconds each send started after its scheduled time
    statuses: dict[int, int]
    errors: dict[str, int]  # requests without an answer, by exception
    acknowledged: set[int]
    connections: int
    cpu_seconds: float  # the generator's own CPU


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Write one pre-encoded request, read its answer; the status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def load(port: int, rate: float, duration: float, resend_share: float) -> LoadResult:
    """Post at `rate` for `duration` over keep-alive connections (a new one whenever all are
    busy, up to MAX_CONNECTIONS), each request's bytes encoded before its send starts."""
    n = int(rate * duration)
    resend_every = max(1, round(1 / resend_share)) if resend_share > 0 else 0
    head = (
        f"POST /helius HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body_bytes(0))}\r\n\r\n"
    ).encode()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []  # + last used
    opened: list[asyncio.StreamWriter] = []
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    result = LoadResult(n, 0.0, [], [], {}, {}, set(), 0, 0.0)

    async def post(body: int, due: float) -> None:
        request = head + body_bytes(body)
        t = time.perf_counter()
        result.lags.append(t - due)
        async with slots:
            # Like an HTTP client's pool: a connection idle for longer than the server keeps
            # one open (uvicorn: 5 s) is not reused.
            while idle and time.perf_counter() - idle[-1][2] > KEEPALIVE_REUSE_SECONDS:
                idle.pop()[1].close()
            try:
                if idle:
                    reader, writer, _ = idle.pop()
                else:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    opened.append(writer)
                status = await _exchange(reader, writer, request)
                idle.append((reader, writer, time.perf_counter()))
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                name = type(exc).__name__
                result.errors[name] = result.errors.get(name, 0) + 1
                return
            finally:
                result.latencies.append(time.perf_counter() - t)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status == 200:
            result.acknowledged.add(body)

    tasks = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for k in range(n):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = k - 1 if resend_every and k % resend_every == 0 and k > 0 else k
        tasks.append(asyncio.create_task(post(body, due)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - start
    result.connections = len(opened)
    for writer in opened:
        writer.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_seconds = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return result


def _load_process(
    port: int, rate: float, duration: float, resend_share: float, out: Connection
) -> None:
    out.send(asyncio.run(load(port, rate, duration, resend_share)))
    out.close()


def run_load(port: int, rate: float, duration: float, resend_share: float) -> LoadResult:
    """The load from its own process, so that the generator does not share this one's GIL."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_load_process, args=(port, rate, duration, resend_share, send), name="load"
    )
    process.start()
    send.close()
    result: LoadResult = receive.recv()
    process.join()
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of `pid` itself and of its live descendants (the receiver: the flusher)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid), sum(sum(process_cpu(int(c))) for c in children)


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
            cpu_before = process_cpu(process.pid)
            result = run_load(port, args.rate, args.duration, args.resend_share)
            cpu_after = process_cpu(process.pid)
            drain_start = time.perf_counter()
            wait_flushed(url, timeout=1800)
            drain = time.perf_counter() - drain_start
        finally:
            kill(process)
        stored = (
            Lake(lake_uri).scan(schemas.WEBHOOK_EVENTS).select("signature", "wallet_address")
        ).collect()
        expected = {signature(b, i) for b in result.acknowledged for i in range(ITEMS_PER_BODY)}
        found = set(stored.get_column("signature").to_list())
        lost = len(expected - found)
        duplicated = stored.height - stored.unique().height
        latencies = result.latencies
        print(
            f"load: {result.posts} posts of {ITEMS_PER_BODY} items in {result.elapsed:.1f} s: "
            f"{result.posts / result.elapsed:.1f} posts/s (target {args.rate:g}), "
            f"statuses {result.statuses}, errors {result.errors}, "
            f"{result.connections} connections\n"
            f"  time to the 200 from the send's start: p50 {ms(statistics.median(latencies))}, "
            f"p99 {ms(percentile(latencies, 0.99))}, max {ms(max(latencies))}\n"
            f"  sends started after their schedule by p99 {ms(percentile(result.lags, 0.99))}, "
            f"max {ms(max(result.lags))}; CPU during the load: generator "
            f"{result.cpu_seconds:.1f} s, receiver {cpu_after[0] - cpu_before[0]:.1f} s, "
            f"flusher {cpu_after[1] - cpu_before[1]:.1f} s\n"
            f"  flusher drained {drain:.1f} s after the last post; "
            f"{stored.height} webhook_events rows for {len(expected)} acknowledged events\n"
            f"  lost {lost}, duplicated {duplicated}; load average {os.getloadavg()}"
        )
        ok = percentile(latencies, 0.99) < 0.1 and lost == 0 and duplicated == 0
        print("goal (p99 < 100 ms, nothing lost, nothing duplicated):", "met" if ok else "NOT met")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
