"""FIFO engine benchmark: 10 M events over ~1 M (wallet, token) pairs, plus the speed ratio
against the plain reference on a 1 M-event slice, measured in the same run; the engine's results
on the slice must equal the reference's (the run fails otherwise).

    .venv/bin/python smart_trader_tests/benchmarks/fifo_benchmark.py \
        [--events 10000000] [--slice 1000000]

Each measurement runs in a fresh child process so that its peak RSS (VmHWM) is its own.
The engine reads the swaps from a Parquet file through a LazyFrame, as silver reads the lake.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from smart_trader import schemas
from smart_trader.pnl.silver import compute_silver
from smart_trader.settings import DEFAULT_NON_TRADE_SOURCES, DEFAULT_QUOTE_ASSETS, USDC, WSOL
from smart_trader_tests.benchmarks.memory import peak_rss_mib

AS_OF = date(2026, 3, 10)
QUOTES = frozenset(DEFAULT_QUOTE_ASSETS)
NON_TRADE = frozenset(DEFAULT_NON_TRADE_SOURCES)
TOKENS_PER_WALLET = 5
N_TOKENS = 5_000
WINDOW_US = 30 * 86_400 * 1_000_000
START_US = 1_770_854_400 * 1_000_000  # 2026-02-10 00:00 UTC, the window's first day


def _address(col: str, length: int) -> pl.Expr:
    """A deterministic address-like string (random-looking prefix, as base58 addresses are)."""
    parts = [pl.col(col).hash(seed).cast(pl.String) for seed in range(length // 19 + 1)]
    return pl.concat_str(parts).str.slice(0, length)


def generate(n_events: int, seed: int = 7) -> pl.DataFrame:
    """One event per swap: quote <-> token, ~10 events per (wallet, token) pair."""
    rng = np.random.default_rng(seed)
    n_pairs = max(n_events // 10, 1)
    n_wallets = max(n_pairs // TOKENS_PER_WALLET, 1)
    pair = rng.integers(0, n_pairs, n_events)
    wallet = pair % n_wallets
    # The wallet's j-th token; distinct for j < TOKENS_PER_WALLET.
    token = (wallet * 7_919 + (pair // n_wallets) * 1_013) % N_TOKENS
    base = 10.0 ** rng.uniform(-9, 3, N_TOKENS)
    token_price = base[token] * rng.lognormal(0.0, 0.5, n_events)
    is_buy = rng.random(n_events) < 0.55
    usd = 10.0 ** rng.uniform(0, 4, n_events)
    quote_sol = rng.random(n_events) < 0.8
    quote_price = np.where(quote_sol, 150.0, 1.0)
    quote_amount = usd / quote_price
    token_amount = usd / token_price
    token_priced = rng.random(n_events) < 0.95
    block_us = START_US + rng.integers(0, WINDOW_US, n_events)
    frame = pl.DataFrame(
        {
            "wallet_n": wallet,
            "token_n": token,
            "is_buy": is_buy,
            "quote": np.where(quote_sol, WSOL, USDC),
            "quote_amount": quote_amount,
            "quote_price": quote_price,
            "token_amount": token_amount,
            "token_price": np.where(token_priced, token_price, np.nan),
            "block_us": block_us,
            "tx_n": rng.permutation(n_events),
        }
    )
    address = _address("wallet_n", 44)
    mint = _address("token_n", 44)
    buy = pl.col("is_buy")
    return frame.select(
        ingest_date=pl.lit(AS_OF),
        block_time=pl.from_epoch("block_us", time_unit="us").dt.replace_time_zone("UTC"),
        block_number=(pl.col("block_us") // 400_000).cast(pl.Int64),
        tx_hash=_address("tx_n", 88),
        ins_index=pl.lit(2, pl.Int32),
        inner_ins_index=pl.lit(-1, pl.Int32),
        wallet_address=address,
        source=pl.lit("raydium"),
        sold_token_address=pl.when(buy).then(pl.col("quote")).otherwise(mint),
        sold_token_symbol=pl.lit("S"),
        sold_amount=pl.when(buy).then(pl.col("quote_amount")).otherwise(pl.col("token_amount")),
        sold_price_usd=pl.when(buy)
        .then(pl.col("quote_price"))
        .otherwise(pl.col("token_price").fill_nan(None)),
        bought_token_address=pl.when(buy).then(mint).otherwise(pl.col("quote")),
        bought_token_symbol=pl.lit("B"),
        bought_amount=pl.when(buy).then(pl.col("token_amount")).otherwise(pl.col("quote_amount")),
        bought_price_usd=pl.when(buy)
        .then(pl.col("token_price").fill_nan(None))
        .otherwise(pl.col("quote_price")),
        fetched_at=pl.from_epoch("block_us", time_unit="us").dt.replace_time_zone("UTC"),
        fetch_truncated=pl.lit(False),
    )


def _prices(n_tokens: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """token_metrics prices for 50 tokens, token_prices for 90 % of the rest."""
    mints = (
        pl.DataFrame({"token_n": np.arange(n_tokens)})
        .select(_address("token_n", 44))
        .to_series()
        .to_list()
    )
    metric = pl.DataFrame({"token_address": mints[:50], "price_usd": [1.0] * 50})
    api_mints = [m for i, m in enumerate(mints[50:]) if i % 10]
    api = pl.DataFrame({"token_address": api_mints, "price_usd": [2.0] * len(api_mints)})
    return metric, api


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far (less sensitive than wall time to other
    load on the machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(mode: str, path: str) -> None:
    metric, api = _prices(N_TOKENS)
    if mode == "engine":
        cpu = _cpu_seconds()
        start = time.perf_counter()
        tokens, wallets = compute_silver(
            pl.scan_parquet(path),
            as_of_date=AS_OF,
            quote_assets=QUOTES,
            non_trade_sources=NON_TRADE,
            metric_prices=metric,
            api_prices=api,
        )
        seconds = time.perf_counter() - start
        out = {
            "seconds": seconds,
            "cpu_seconds": _cpu_seconds() - cpu,
            "pairs": tokens.height,
            "wallets": wallets.height,
        }
    else:
        from smart_trader_tests.fifo_reference import assert_silver_equal, reference_silver

        swaps = pl.read_parquet(path)
        start = time.perf_counter()
        engine = compute_silver(
            swaps,
            as_of_date=AS_OF,
            quote_assets=QUOTES,
            non_trade_sources=NON_TRADE,
            metric_prices=metric,
            api_prices=api,
        )
        engine_seconds = time.perf_counter() - start
        rows = swaps.to_dicts()
        metric_map = dict(metric.iter_rows())
        api_map = dict(api.iter_rows())
        start = time.perf_counter()
        reference = reference_silver(
            rows,
            as_of_date=AS_OF,
            quote_assets=QUOTES,
            non_trade_sources=NON_TRADE,
            metric_prices=metric_map,
            api_prices=api_map,
        )
        out = {
            "seconds": engine_seconds,
            "reference_seconds": time.perf_counter() - start,
            "events": swaps.height,
        }
        # The same results, every column at the property tests' tolerances (raises otherwise).
        assert_silver_equal(engine, reference)
    out["peak_rss_gib"] = peak_rss_mib() / 1024
    print(json.dumps(out))


def _run_child(mode: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"the {mode} run failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--slice", type=int, default=1_000_000)
    parser.add_argument("--workdir", help="keep the generated data here and reuse it")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"))
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        _measure(Path(args.workdir), args.events, args.slice)
    else:
        with tempfile.TemporaryDirectory(prefix="fifo_bench_") as tmp:
            _measure(Path(tmp), args.events, args.slice)


def _measure(workdir: Path, events: int, slice_events: int) -> None:
    full = workdir / f"swaps_{events}.parquet"
    part = workdir / f"slice_{events}_{slice_events}.parquet"
    if not (full.exists() and part.exists()):
        start = time.perf_counter()
        swaps = schemas.conform(generate(events), schemas.TRANSACTION_HISTORY)
        swaps.write_parquet(full)
        # The slice: whole wallets (their pairs intact), about slice_events events.
        share = slice_events / events
        swaps.filter(
            pl.col("wallet_address").hash(99) % 1_000_000 < share * 1_000_000
        ).write_parquet(part)
        del swaps
        print(f"generated {events:,} swaps in {time.perf_counter() - start:.1f} s")

    big = _run_child("engine", full)
    print(
        f"engine, {events:,} events ({big['pairs']:,.0f} pairs, "
        f"{big['wallets']:,.0f} wallets): {big['seconds']:.2f} s wall, "
        f"{events / big['seconds']:,.0f} events/s, {big['cpu_seconds']:.1f} CPU s, "
        f"peak RSS {big['peak_rss_gib']:.2f} GiB, load average {os.getloadavg()[0]:.1f}"
    )
    small = _run_child("compare", part)
    ratio = small["reference_seconds"] / small["seconds"]
    print(
        f"slice of {small['events']:,.0f} events: engine {small['seconds']:.2f} s, "
        f"reference {small['reference_seconds']:.2f} s, engine is {ratio:.0f}x faster; "
        "same results as the reference"
    )


if __name__ == "__main__":
    main()
