"""BirdEyeClient throughput against the sandbox served over a loopback socket.

Starts the sandbox in a uvicorn subprocess with a per-account limit of RPS requests/s, then
fetches the swaps of the tracked wallets of one day (about PAGES pages of
/trader/txs/seek_by_time) with the client configured for the same RPS, twice: fault-free, then
with 10 % injected 5xx and 5 % injected 429. Prints the achieved request rate as a fraction of
the limit, the 429s received, and whether the faulty pass stored the same rows.

    .venv/bin/python smart_trader_tests/benchmarks/client_benchmark.py [--rps 50] [--wallets 1900]
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import polars as pl

from smart_trader.ingest.ledger import FetchResult
from smart_trader.ingest.swaps import TRADER_TXS
from smart_trader.resources.birdeye import BirdEyeClient
from smart_trader.sandbox.transport import served_at
from smart_trader.schemas import TRANSACTION_HISTORY, UTC_TIMESTAMP
from smart_trader.settings import Settings

SEED = 7
DAY = dt.date(2026, 11, 20)
WINDOW_DAYS = 30

SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from smart_trader.sandbox import FaultConfig, SandboxConfig, create_app
    port, rps, faults = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    config = SandboxConfig(seed={seed}, rate_limit_rps=rps, faults=FaultConfig.parse(faults))
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    """
).format(seed=SEED)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox_server(rps: float, faults: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(rps), faults])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/defi/v3/token/list", timeout=1.0)  # 401 without a key: up
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sandbox server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def client(url: str, rps: float) -> BirdEyeClient:
    return BirdEyeClient(
        connection=served_at(url),
        api_key="benchmark",
        requests_per_second=rps,
        max_concurrency=32,
        timeout_seconds=30.0,
        max_retries=8,
        progress_every=500,
    )


def wallet_ranges(url: str, rps: float, wallets: int) -> pl.DataFrame:
    """Tracked wallets of DAY (whale holders of its tokens), each over a 30-day window."""
    birdeye = client(url, rps)
    tokens = birdeye.fetch_token_metrics(DAY, Settings()).frame
    holders = birdeye.fetch_whale_holders(
        DAY, tokens.select("token_address", "price_usd"), Settings()
    )
    chosen = holders.frame.get_column("wallet_address").unique().sort().head(wallets)
    start = dt.datetime.combine(DAY - dt.timedelta(days=WINDOW_DAYS - 1), dt.time(), dt.UTC)
    return pl.DataFrame(
        {"wallet_address": chosen, "start": [start] * len(chosen)},
        schema={"wallet_address": pl.String, "start": UTC_TIMESTAMP},
    )


def run_pass(
    label: str, rps: float, faults: str, ranges: pl.DataFrame | None, wallets: int
) -> tuple[pl.DataFrame, FetchResult]:
    with sandbox_server(rps, faults) as url:
        if ranges is None:
            ranges = wallet_ranges(url, rps, wallets)
        # Warm the server's per-day tables for the window, outside the timed fetch.
        client(url, rps).fetch_swaps(DAY, ranges.head(1), 20_000)
        time.sleep(1.0)  # let the server's bucket refill after the warm-up
        began = time.monotonic()
        result = client(url, rps).fetch_swaps(DAY, ranges, 20_000)
        seconds = time.monotonic() - began
    stats = result.stats
    requests = int(stats["http_requests"])
    pages = requests - int(stats["http_retries"])
    rate = requests / seconds
    wire = requests / float(stats["http_wire_seconds"])
    print(
        f"{label:>10}: {pages} pages, {requests} requests in {seconds:.1f} s = {rate:.1f} req/s "
        f"= {rate / rps:.3f} of the {rps:g}/s limit (first request to last answer: "
        f"{wire / rps:.3f}); 429s received: {stats['http_429']}, "
        f"5xx: {stats['http_5xx']}, retries: {stats['http_retries']}; "
        f"rows {result.frame.height}"
    )
    return ranges, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", type=float, default=50.0)
    parser.add_argument("--wallets", type=int, default=1900)
    args = parser.parse_args()
    ranges, clean = run_pass("fault-free", args.rps, "", None, args.wallets)
    _, faulty = run_pass(
        "faulty", args.rps, "server_error=0.1,rate_limit=0.05,fault_seed=1", ranges, args.wallets
    )
    key = list(TRANSACTION_HISTORY.key)
    same = (
        clean.frame.drop("fetched_at").sort(key).equals(faulty.frame.drop("fetched_at").sort(key))
    )
    counts = (clean.counts[TRADER_TXS], faulty.counts[TRADER_TXS])
    print(f"wallets {ranges.height}, window {WINDOW_DAYS} days; same rows with faults: {same}")
    print(f"  fault-free counts: {counts[0]}")
    print(f"  faulty counts:     {counts[1]}")
    if not same or counts[0] != counts[1]:
        sys.exit(1)


if __name__ == "__main__":
    main()
