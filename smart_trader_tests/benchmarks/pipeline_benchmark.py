"""Wall time and peak memory of the whole graph on the in-process sandbox.

(a) the first day, cold, with the default configuration (50 tokens, 100 holders each, 30-day
lookback), and (b) the following day, incremental. Each phase runs in its own process on a fresh
lake and instance, so the peak RSS printed is that phase's own.

    uv run python smart_trader_tests/benchmarks/pipeline_benchmark.py [--day 2026-03-14]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

from smart_trader_tests.benchmarks.memory import peak_rss_mib

GOALS = {"cold": 120.0, "incremental": 30.0}


def run_phase(day: str) -> None:
    import dagster as dg

    from smart_trader.definitions import defs

    instance = dg.DagsterInstance.get()
    job = defs.resolve_implicit_global_asset_job_def()
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, partition_key=day, raise_on_error=True)
    seconds = time.perf_counter() - started
    print(
        json.dumps({"success": result.success, "seconds": seconds, "peak_rss_mib": peak_rss_mib()})
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", default="2026-03-14", help="the cold day D; D+1 is incremental")
    parser.add_argument("--phase-day", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase_day:
        run_phase(args.phase_day)
        return 0
    cold = dt.date.fromisoformat(args.day)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            DAGSTER_HOME=os.path.join(tmp, "dagster_home"),
            SMART_TRADER_LAKE_URI=os.path.join(tmp, "lake"),
        )
        os.makedirs(env["DAGSTER_HOME"])
        env.pop("BIRDEYE_API_KEY", None)
        env.pop("HELIUS_API_KEY", None)
        for name, day in (("cold", cold), ("incremental", cold + dt.timedelta(days=1))):
            out = subprocess.run(
                [sys.executable, __file__, "--phase-day", day.isoformat()],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                print(out.stdout[-3000:], out.stderr[-3000:], sep="\n")
                return 1
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{name:12s} {day}  wall {figures['seconds']:7.1f} s  "
                f"peak RSS {figures['peak_rss_mib']:7.0f} MiB  "
                f"(goal ≤ {GOALS[name]:.0f} s: {figures['seconds'] / GOALS[name]:.2f} of it)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
