"""How the graph's cost grows with the market: a steady-state day at 1×, 3× and 10×.

For each factor f, in its own process, on a fresh lake and instance: a sandbox market f times
the default (tokens and wallets per archetype), served over loopback by `smart-trader sandbox
serve` in a process of its own, and a tracked set f times the default (tokens per day and
holders per token each × √f, so tracked wallets grow × f). The days before the measured day
are materialized first, untimed (so the day is incremental: most wallets are already known);
then the whole graph runs for the day, and every step (asset or check) reports wall time, CPU
time of the pipeline's process, peak RSS of the step, CPU time the sandbox spent serving it,
and rows in and out. The sandbox's CPU is its own process's, never counted as the pipeline's.

Then, between sizes, each figure's growth exponent log(ratio) / log(size ratio), and where the
time goes at the largest size.

    uv run python smart_trader_tests/benchmarks/scale_benchmark.py [--factors 1 3 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DAY = dt.date(2026, 3, 14)
WARM_UP_DAYS = 2
BASE_TOKENS_PER_DAY = 50
BASE_HOLDERS_PER_TOKEN = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class StepCost:
    step: str
    kind: str  # "asset" or "check"
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    sandbox_cpu_s: float = 0.0
    rows_in: int = 0
    rows_out: int = 0


@dataclass
class PhaseResult:
    factor: float
    tokens_per_day: int
    holders_per_token: int
    run_wall_s: float
    run_cpu_s: float
    sandbox_cpu_s: float
    peak_rss_mib: float
    steps: list[StepCost] = field(default_factory=list)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process (the sandbox server), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, so each step's peak is its own."""
    Path("/proc/self/clear_refs").write_text("5")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StepMeter(logging.Handler):
    """Samples the process at each step's start and end, as Dagster logs those events."""

    def __init__(self, sandbox_pid: int) -> None:
        super().__init__()
        self.sandbox_pid = sandbox_pid
        self.open: dict[str, tuple[float, float, float]] = {}
        self.steps: dict[str, StepCost] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta: dict[str, Any] = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        if event is None or event.step_key is None:
            return
        step = event.step_key
        if event.event_type_value == "STEP_START":
            _reset_peak_rss()
            self.open[step] = (
                time.perf_counter(),
                _cpu_seconds(),
                _process_cpu_seconds(self.sandbox_pid),
            )
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and step in self.open:
            wall0, cpu0, sandbox0 = self.open.pop(step)
            from smart_trader_tests.benchmarks.memory import peak_rss_mib

            self.steps[step] = StepCost(
                step=step,
                kind="check" if step.endswith("_checks") else "asset",
                wall_s=time.perf_counter() - wall0,
                cpu_s=_cpu_seconds() - cpu0,
                peak_rss_mib=peak_rss_mib(),
                sandbox_cpu_s=_process_cpu_seconds(self.sandbox_pid) - sandbox0,
            )


def _rows(lake: Any, key: Any, partitions: list[str]) -> int:
    import polars as pl

    from smart_trader.schemas import TABLES_BY_PATH

    spec = TABLES_BY_PATH.get("/".join(key.path))
    if spec is None:
        return 0
    if spec.partition_column is None:
        return int(lake.scan(spec).select(pl.len()).collect().item())
    days = [dt.date.fromisoformat(p) for p in partitions]
    return int(lake.scan(spec, days).select(pl.len()).collect().item())


def _rows_in_and_out(defs: Any, lake: Any, steps: dict[str, StepCost], day: str) -> None:
    """Rows an asset step reads (its parents' mapped partitions) and writes; a check step reads
    its asset's partition."""
    graph = defs.resolve_asset_graph()
    for node in graph.asset_nodes:
        key = node.key
        step = key.to_python_identifier()
        partitions = [day] if node.is_partitioned else []
        if step in steps:
            steps[step].rows_out = _rows(lake, key, partitions)
            for parent in node.parent_keys:
                parent_node = graph.get(parent)
                mapped = (
                    graph.get_parent_partition_keys_for_child(
                        day, parent, key
                    ).partitions_subset.get_partition_keys()
                    if parent_node.is_partitioned and node.is_partitioned
                    else []
                )
                steps[step].rows_in += _rows(lake, parent, list(mapped))
        if f"{step}_checks" in steps:
            steps[f"{step}_checks"].rows_in = _rows(lake, key, partitions)


def run_phase(factor: float, workdir: Path) -> PhaseResult:
    """One size, in this process: serve the market, warm up, measure the day."""
    scale = math.sqrt(factor)
    tokens_per_day = round(BASE_TOKENS_PER_DAY * scale)
    holders = round(BASE_HOLDERS_PER_TOKEN * scale)
    port = _free_port()
    size_env = {
        "SMART_TRADER_SANDBOX_TOKENS": str(round(400 * factor)),
        "SMART_TRADER_SANDBOX_WALLET_SCALE": str(factor),
    }
    server_env = {**os.environ, **size_env}
    smart_trader = Path(sys.executable).parent / "smart-trader"
    server = subprocess.Popen(
        [str(smart_trader), "sandbox", "serve", "--port", str(port), "--log-level", "error"],
        env=server_env,
    )
    try:
        _wait_for_port(port, server)
        os.environ.update(
            {
                "DAGSTER_HOME": str(workdir / "dagster_home"),
                "SMART_TRADER_LAKE_URI": str(workdir / "lake"),
                "SMART_TRADER_SANDBOX_URL": f"http://127.0.0.1:{port}",
                "SMART_TRADER_TOKENS_PER_DAY": str(tokens_per_day),
                "SMART_TRADER_HOLDERS_PER_TOKEN": str(holders),
                **size_env,
            }
        )
        (workdir / "dagster_home").mkdir(parents=True, exist_ok=True)
        (workdir / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        return _measure(factor, tokens_per_day, holders, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the sandbox server exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the sandbox server did not start within 120 s")


def _measure(factor: float, tokens_per_day: int, holders: int, sandbox_pid: int) -> PhaseResult:
    import dagster as dg

    from smart_trader.definitions import default_resources, defs
    from smart_trader.resources.lake import LakeResource
    from smart_trader_tests.benchmarks.memory import peak_rss_mib

    instance = dg.DagsterInstance.get()
    job = defs.resolve_implicit_global_asset_job_def()
    for back in range(WARM_UP_DAYS, 0, -1):
        day = (DAY - dt.timedelta(days=back)).isoformat()
        print(f"  {factor}×: warm-up day {day}", file=sys.stderr, flush=True)
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        job.execute_in_process(instance=instance, partition_key=day, run_config=quiet)

    meter = StepMeter(sandbox_pid)

    @dg.logger
    def step_meter(_: dg.InitLoggerContext) -> logging.Logger:
        log = logging.getLogger("scale_benchmark")
        log.setLevel(logging.DEBUG)
        log.handlers = [meter]
        return log

    measured = dg.Definitions.merge(defs, dg.Definitions(loggers={"step_meter": step_meter}))
    measured_job = measured.resolve_implicit_global_asset_job_def()
    print(f"  {factor}×: measured day {DAY}", file=sys.stderr, flush=True)
    sandbox0, cpu0, wall0 = _process_cpu_seconds(sandbox_pid), _cpu_seconds(), time.perf_counter()
    result = measured_job.execute_in_process(
        instance=instance,
        partition_key=DAY.isoformat(),
        run_config={"loggers": {"step_meter": {}}},
    )
    wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
    sandbox = _process_cpu_seconds(sandbox_pid) - sandbox0
    if not result.success:
        raise RuntimeError(f"the measured run failed at {factor}×")
    lake = default_resources()["lake"]
    assert isinstance(lake, LakeResource)
    _rows_in_and_out(defs, lake.lake(), meter.steps, DAY.isoformat())
    # Each step resets the high-water mark, so the run's peak is the largest step's.
    peak = max([peak_rss_mib(), *(s.peak_rss_mib for s in meter.steps.values())])
    return PhaseResult(
        factor=factor,
        tokens_per_day=tokens_per_day,
        holders_per_token=holders,
        run_wall_s=wall,
        run_cpu_s=cpu,
        sandbox_cpu_s=sandbox,
        peak_rss_mib=peak,
        steps=sorted(meter.steps.values(), key=lambda s: s.step),
    )


def _exponent(small: float, large: float, ratio: float) -> float | None:
    if small <= 0 or large <= 0:
        return None
    return math.log(large / small) / math.log(ratio)


def report(results: list[PhaseResult]) -> None:
    print("\n== per size ==")
    for r in results:
        checks = sum(s.cpu_s for s in r.steps if s.kind == "check")
        silver_gold = sum(s.wall_s for s in r.steps if s.step.startswith(("silver", "gold")))
        check_wall = sum(s.wall_s for s in r.steps if s.kind == "check")
        print(
            f"{r.factor:>4g}×  tokens/day {r.tokens_per_day:>4}"
            f"  holders/token {r.holders_per_token:>4}"
            f"  run wall {r.run_wall_s:7.1f} s  pipeline CPU {r.run_cpu_s:7.1f} s"
            f"  sandbox CPU {r.sandbox_cpu_s:7.1f} s  peak RSS {r.peak_rss_mib:7.0f} MiB"
            f"  silver+gold+checks wall {silver_gold + check_wall:6.1f} s"
            f"  checks {checks / r.run_cpu_s:5.1%} of pipeline CPU"
        )
    print("\n== per step (wall s / CPU s / peak RSS MiB / sandbox CPU s / rows in / rows out) ==")
    names = sorted({s.step for r in results for s in r.steps})
    header = "step".ljust(44) + "".join(f"{f'{r.factor:g}×':>52}" for r in results)
    print(header)
    for name in names:
        line = name.ljust(44)
        for r in results:
            s = next((x for x in r.steps if x.step == name), None)
            line += (
                f"{s.wall_s:8.2f}{s.cpu_s:8.2f}{s.peak_rss_mib:8.0f}{s.sandbox_cpu_s:8.2f}"
                f"{s.rows_in:10d}{s.rows_out:10d}"
                if s
                else " " * 52
            )
        print(line)
    if len(results) < 2:
        return
    print("\n== growth exponents (log time ratio / log size ratio) ==")
    for small, large in itertools.pairwise(results):
        ratio = large.factor / small.factor
        print(f"-- {small.factor:g}× → {large.factor:g}×")
        for name in names:
            a = next((x for x in small.steps if x.step == name), None)
            b = next((x for x in large.steps if x.step == name), None)
            if a is None or b is None:
                continue
            parts = []
            for label, x, y in (
                ("wall", a.wall_s, b.wall_s),
                ("cpu", a.cpu_s, b.cpu_s),
                ("rss", a.peak_rss_mib, b.peak_rss_mib),
                ("rows_out", a.rows_out, b.rows_out),
            ):
                e = _exponent(x, y, ratio)
                parts.append(f"{label} {e:5.2f}" if e is not None else f"{label}   n/a")
            print(f"   {name.ljust(44)} " + "  ".join(parts))
    largest = results[-1]
    print(f"\n== where the time goes at {largest.factor:g}× (wall) ==")
    total = sum(s.wall_s for s in largest.steps)
    for s in sorted(largest.steps, key=lambda x: -x.wall_s)[:12]:
        print(
            f"   {s.step.ljust(44)} {s.wall_s:7.1f} s  {s.wall_s / total:5.1%}"
            f"  (of it, sandbox CPU {s.sandbox_cpu_s:6.1f} s)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    parser.add_argument("--phase", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        print(json.dumps(asdict(run_phase(args.phase, args.workdir))))
        return 0
    results = []
    for factor in args.factors:
        with tempfile.TemporaryDirectory(prefix=f"scale{factor:g}x-") as workdir:
            started = time.monotonic()
            print(f"{factor:g}×: running in {workdir}", file=sys.stderr, flush=True)
            out = subprocess.run(
                [sys.executable, __file__, "--phase", str(factor), "--workdir", workdir],
                stdout=subprocess.PIPE,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                return out.returncode
            print(f"{factor:g}×: done in {time.monotonic() - started:.0f} s", file=sys.stderr)
            data = json.loads(out.stdout.strip().splitlines()[-1])
            steps = [StepCost(**s) for s in data.pop("steps")]
            results.append(PhaseResult(**data, steps=steps))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
