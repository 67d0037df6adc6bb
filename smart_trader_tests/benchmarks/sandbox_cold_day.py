"""Serve one cold day the way the pipeline asks for it, in process, and print the figures.

token list (top 50 by liquidity after the default filters) -> holder pages until 100 on-curve
owners per token -> every owner's swaps over 30 days (tx_type=swap, 100 a page, newest first).
Run: .venv/bin/python smart_trader_tests/benchmarks/sandbox_cold_day.py [--seed 7] \
    [--day 2025-03-10]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date

import httpx
from solders.pubkey import Pubkey

from smart_trader.sandbox import SandboxConfig, create_app, day_end

FILTERS: dict[str, str | int] = {
    "sort_by": "liquidity",
    "sort_type": "desc",
    "min_liquidity": 1_000_000,
    "max_liquidity": 3_000_000,
    "min_volume_1h_usd": 100_000,
    "min_price_change_2h_percent": 0,
    "min_price_change_24h_percent": 30,
    "limit": 50,
    "ui_amount_mode": "raw",
}


async def run(seed: int, day: date, concurrency: int) -> None:
    started = time.perf_counter()
    cpu0 = time.process_time()
    app = create_app(SandboxConfig(seed=seed))
    at = day_end(day)
    headers = {"X-API-KEY": "bench", "x-sandbox-as-of": str(at)}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        tokens = (await c.get("/defi/v3/token/list", params=FILTERS, headers=headers)).json()
        addresses = [t["address"] for t in tokens["data"]["items"]]
        owners: set[str] = set()
        for token in addresses:
            kept: set[str] = set()
            for page in range(10):
                r = await c.get(
                    "/defi/v3/token/holder",
                    headers=headers,
                    params={"address": token, "offset": page * 100, "limit": 100},
                )
                items = r.json()["data"]["items"]
                kept |= {i["owner"] for i in items if Pubkey.from_string(i["owner"]).is_on_curve()}
                if len(kept) >= 100 or len(items) < 100:
                    break
            owners |= set(sorted(kept)[:100])
        after_holders = time.perf_counter()
        pages = swaps = 0
        sem = asyncio.Semaphore(concurrency)

        async def fetch(wallet: str) -> None:
            nonlocal pages, swaps
            offset, before = 0, at
            while True:
                params: dict[str, str | int] = {
                    "address": wallet,
                    "tx_type": "swap",
                    "limit": 100,
                    "offset": offset,
                    "before_time": before,
                    "after_time": at - 30 * 86_400 + 1,
                }
                async with sem:
                    data = (
                        await c.get("/trader/txs/seek_by_time", params=params, headers=headers)
                    ).json()["data"]
                pages += 1
                swaps += len(data["items"])
                if not data["hasNext"]:
                    return
                offset += 100
                if offset + 100 > 10_000:
                    before, offset = data["items"][-1]["block_unix_time"], 0

        await asyncio.gather(*(fetch(w) for w in sorted(owners)))
    done = time.perf_counter()
    print(f"day {day} seed {seed}: {len(addresses)} tokens, {len(owners)} wallets")
    print(f"list + holders: {after_holders - started:.2f} s (includes building the market)")
    print(
        f"trades: {pages} pages, {swaps} swaps in {done - after_holders:.2f} s "
        f"({(done - after_holders) / max(pages, 1) * 1000:.2f} ms a page)"
    )
    print(f"total {done - started:.2f} s wall, {time.process_time() - cpu0:.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2025, 3, 10))
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.seed, args.day, args.concurrency))


if __name__ == "__main__":
    main()
