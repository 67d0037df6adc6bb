"""The quality report: does gold find the sandbox's smart traders, and do its picks keep winning?

`smart-trader quality --seed S --days N` materializes N consecutive days of the whole graph on a
fresh temporary lake and Dagster instance, in process, against the embedded sandbox market of
seed S (its size from SMART_TRADER_SANDBOX_*), then judges the last day's gold list against the
market's hidden truth (sandbox.ground_truth). The rules come from the environment like any run,
so the report judges the rules a deployment would use. Only the sandbox knows the truth: this
module is the sandbox's, never imported by the pipeline.

`materialize_days` drives Dagster; everything after it (`quality_report`, `render`) is plain
polars over the lake's tables.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from smart_trader import schemas
from smart_trader.gold_rules import eligibility_failures
from smart_trader.lake import Lake
from smart_trader.sandbox.app import shared_app
from smart_trader.sandbox.environment import FAULTS
from smart_trader.sandbox.market import ground_truth
from smart_trader.sandbox.size import size_from_env
from smart_trader.sandbox.transport import in_process
from smart_trader.settings import EligibilityThresholds, Settings

WEBHOOK_URL = "https://hooks.quality.smart-trader.invalid/helius"
TIERS = ("ELITE", "STRONG", "PROMISING", "BASELINE")
NOT_TRADERS = ("bot", "pool", "bonding_curve", "exchange", "burn", "wash")
LUCK = ("lucky", "bag_holder")
NO_FORWARD = "no forward performance yet"


@dataclass(frozen=True)
class DayTiming:
    day: dt.date
    seconds: float
    sandbox_seconds: float
    gold_wallets: int


def materialize_days(
    seed: int,
    days: list[dt.date],
    settings: Settings,
    root: Path,
    progress: Callable[[str], None],
) -> tuple[Lake, list[DayTiming]]:
    """Every asset and check of each day in order, on a lake and instance under `root`."""
    from smart_trader.definitions import build_definitions
    from smart_trader.resources.birdeye import BirdEyeClient
    from smart_trader.resources.delta_io_manager import DeltaIOManager
    from smart_trader.resources.helius import HeliusClient
    from smart_trader.resources.lake import LakeResource

    faults = os.environ.get(FAULTS) or ""  # as the in-process sandbox reads it
    lake_uri = str(root / "lake")
    webhooks = str(root / "helius_webhooks.json")
    resources = {
        "io_manager": DeltaIOManager(lake_uri=lake_uri),
        "lake": LakeResource(lake_uri=lake_uri),
        "birdeye": BirdEyeClient(connection=in_process(seed, faults)),
        "helius": HeliusClient(
            connection=in_process(seed, faults, helius_state_path=webhooks), webhook_url=WEBHOOK_URL
        ),
    }
    job = build_definitions(settings, resources).resolve_implicit_global_asset_job_def()
    lake = LakeResource(lake_uri=lake_uri).lake()
    gate = shared_app(seed, "").state.gate  # the BirdEye app of in_process(seed, faults)
    timings: list[DayTiming] = []
    instance = dg.DagsterInstance.ephemeral()  # fresh, in memory: nothing outlives the report
    for k, day in enumerate(days, start=1):
        started, served = time.perf_counter(), gate.serve_seconds
        result = job.execute_in_process(
            instance=instance,
            partition_key=day.isoformat(),
            raise_on_error=False,
            run_config={
                "ops": {
                    "monitoring__helius_sync_log": {
                        "config": {"today": (day + dt.timedelta(days=1)).isoformat()}
                    }
                },
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
        )
        if not result.success:
            failed = sorted({str(e.step_key) for e in result.all_events if e.is_step_failure})
            raise RuntimeError(f"the run for {day} failed at {', '.join(failed)}")
        gold = lake.scan(schemas.SMART_WALLETS, [day]).select(pl.len()).collect().item()
        timing = DayTiming(
            day, time.perf_counter() - started, gate.serve_seconds - served, int(gold)
        )
        timings.append(timing)
        progress(
            f"day {k}/{len(days)} {day}: {timing.seconds:.1f} s "
            f"(sandbox {timing.sandbox_seconds:.1f} s), gold {timing.gold_wallets} wallets"
        )
    return lake, timings


# --- the report (pure) --------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def precision(gold: pl.DataFrame) -> dict[str, Any]:
    """Wallets and the share of them that are smart."""
    smart = int((gold["archetype"] == "smart").sum())
    return {"wallets": gold.height, "smart": smart, "precision": _share(smart, gold.height)}


def forward_by_tier(performance: pl.DataFrame) -> list[dict[str, Any]]:
    """Per tier: wallets, share with forward total PnL > 0, median and mean forward total PnL."""
    rows = []
    for tier in TIERS:
        pnl = performance.filter(pl.col("tier") == tier)["forward_total_pnl_usd"]
        rows.append(
            {
                "tier": tier,
                "wallets": pnl.len(),
                "share_positive": _share(int((pnl > 0).sum()), pnl.len()),
                "median_forward_total_pnl_usd": pnl.median() if pnl.len() else None,
                "mean_forward_total_pnl_usd": pnl.mean() if pnl.len() else None,
            }
        )
    return rows


def smart_misses(
    wallet_pnl: pl.DataFrame, truth: pl.DataFrame, day: dt.date, thresholds: EligibilityThresholds
) -> list[dict[str, Any]]:
    """Why the smart wallets of silver(D) are not in gold: per eligibility rule, how many of
    them fail it, and how many fail it alone (the wallets that rule by itself keeps out)."""
    smart = truth.filter(pl.col("archetype") == "smart").get_column("wallet_address")
    failures = eligibility_failures(
        wallet_pnl.filter(pl.col("wallet_address").is_in(smart.implode())), day, thresholds
    ).filter(~pl.col("eligible"))
    rules = [c for c in failures.columns if c not in ("wallet_address", "eligible")]
    alone = pl.sum_horizontal(*rules) == 1
    rows = [
        {
            "rule": rule,
            "failing": int(failures[rule].sum()),
            "failing_alone": int(failures.filter(alone)[rule].sum()),
        }
        for rule in rules
    ]
    return sorted((r for r in rows if r["failing"]), key=lambda r: (-r["failing"], str(r["rule"])))


def quality_report(
    gold: pl.DataFrame,
    wallet_pnl: pl.DataFrame,
    truth: pl.DataFrame,
    top_n: int,
    performance: pl.DataFrame | None,
) -> dict[str, Any]:
    """The report of one day: gold(D), silver wallet_pnl(D), the market's truth, and the
    pick_performance partition that judges an earlier day (None: none exists yet)."""
    kinds = truth.select("wallet_address", "archetype")
    gold = gold.join(kinds, on="wallet_address", how="left").with_columns(
        pl.col("archetype").fill_null("unknown")
    )
    silver = wallet_pnl.join(kinds, on="wallet_address", how="left")
    makeup = (
        gold.group_by("archetype")
        .agg(pl.len().alias("wallets"))
        .with_columns(share=pl.col("wallets") / max(gold.height, 1))
        .sort(["wallets", "archetype"], descending=[True, False])
    )
    smart_in_silver = int((silver["archetype"] == "smart").sum())
    smart_in_gold = int((gold["archetype"] == "smart").sum())
    top = gold.sort("rank").head(top_n)
    counts = dict(makeup.select("archetype", "wallets").iter_rows())
    forward: dict[str, Any] | None = None
    if performance is not None and performance.height:
        forward = {
            "evaluated_on": str(performance["evaluated_on"][0]),
            "picked_on": str(performance["picked_on"][0]),
            "tiers": forward_by_tier(performance),
        }
    return {
        "gold_wallets": gold.height,
        "makeup": makeup.to_dicts(),
        "precision": {
            "gold": precision(gold),
            "elite": precision(gold.filter(pl.col("tier") == "ELITE")),
            f"top_{top_n}": precision(top),
        },
        "recall": {
            "smart_in_gold": smart_in_gold,
            "smart_in_silver": smart_in_silver,
            "recall": _share(smart_in_gold, smart_in_silver),
        },
        "luck_share": _share(sum(counts.get(k, 0) for k in LUCK), gold.height),
        "not_traders_in_gold": {k: counts.get(k, 0) for k in NOT_TRADERS},
        "snipers_in_gold": counts.get("sniper", 0),
        "forward": forward,
    }


def _fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


def render(report: dict[str, Any], day: dt.date, seed: int) -> str:
    """The report as text tables."""
    lines = [f"quality of gold/smart_wallets on {day} (sandbox seed {seed})", ""]
    lines.append(f"gold make-up by hidden archetype ({report['gold_wallets']} wallets)")
    lines.append(f"  {'archetype':<14}{'wallets':>8}{'share':>8}")
    for row in report["makeup"]:
        lines.append(f"  {row['archetype']:<14}{row['wallets']:>8}{row['share']:>8.3f}")
    lines += ["", "precision (share smart)", f"  {'list':<14}{'wallets':>8}{'precision':>11}"]
    for name, p in report["precision"].items():
        lines.append(f"  {name:<14}{p['wallets']:>8}{_fmt(p['precision']):>11}")
    r = report["recall"]
    lines += [
        "",
        f"recall: {r['smart_in_gold']} smart wallets in gold / {r['smart_in_silver']} in "
        f"silver wallet_pnl = {_fmt(r['recall'])}",
        f"lucky + bag_holder share of gold: {_fmt(report['luck_share'])}",
        "not traders in gold: "
        + ", ".join(f"{k} {v}" for k, v in report["not_traders_in_gold"].items()),
        f"snipers in gold: {report['snipers_in_gold']}",
        "",
    ]
    if misses := report.get("smart_misses"):
        lines.append("why smart wallets of silver are not in gold (eligibility rules they fail)")
        lines.append(f"  {'rule':<24}{'failing':>8}{'alone':>7}")
        for m in misses:
            lines.append(f"  {m['rule']:<24}{m['failing']:>8}{m['failing_alone']:>7}")
        lines.append("")
    forward = report["forward"]
    if forward is None:
        lines.append(f"forward performance: {NO_FORWARD}")
    else:
        lines.append(
            f"forward performance of the picks of {forward['picked_on']}, "
            f"evaluated on {forward['evaluated_on']}"
        )
        lines.append(f"  {'tier':<11}{'wallets':>8}{'share>0':>9}{'median':>12}{'mean':>12}")
        for t in forward["tiers"]:
            lines.append(
                f"  {t['tier']:<11}{t['wallets']:>8}{_fmt(t['share_positive']):>9}"
                f"{_fmt(t['median_forward_total_pnl_usd'], '{:.1f}'):>12}"
                f"{_fmt(t['mean_forward_total_pnl_usd'], '{:.1f}'):>12}"
            )
    return "\n".join(lines)


def _forward_table(lake: Lake, days: list[dt.date]) -> pl.DataFrame | None:
    """The newest pick_performance partition with rows among `days` (None: none has rows)."""
    for day in reversed(days):
        frame = lake.read_day(schemas.PICK_PERFORMANCE, day)  # a table never written reads as empty
        if frame.height:
            return frame
    return None


def run_quality(
    seed: int,
    days: int,
    end_day: dt.date,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], list[DayTiming]]:
    """Materialize `days` days ending on `end_day` on a throwaway lake; report the last day."""

    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    span = [end_day - dt.timedelta(days=days - 1 - k) for k in range(days)]
    with tempfile.TemporaryDirectory(prefix="smart-trader-quality-") as tmp:
        lake, timings = materialize_days(seed, span, settings, Path(tmp), say)
        wallet_pnl = lake.read_day(schemas.WALLET_PNL, end_day)
        truth = ground_truth(seed, end_day, size_from_env())
        report = quality_report(
            gold=lake.read_day(schemas.SMART_WALLETS, end_day),
            wallet_pnl=wallet_pnl,
            truth=truth,
            top_n=settings.helius_max_addresses,
            performance=_forward_table(lake, span),
        )
        report["smart_misses"] = smart_misses(wallet_pnl, truth, end_day, settings.eligibility)
    report["seed"] = seed
    report["day"] = end_day.isoformat()
    report["days"] = days
    report["timings"] = [
        {
            "day": t.day.isoformat(),
            "seconds": t.seconds,
            "sandbox_seconds": t.sandbox_seconds,
            "gold_wallets": t.gold_wallets,
        }
        for t in timings
    ]
    return report, timings
