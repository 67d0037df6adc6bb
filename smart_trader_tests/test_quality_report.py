"""The quality report: figures by hand, and `smart-trader quality` end to end on a tiny market."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from smart_trader.cli import main
from smart_trader.sandbox.evaluation import NO_FORWARD, quality_report, render, smart_misses
from smart_trader.settings import EligibilityThresholds
from smart_trader_tests.test_scoring import D as SCORED_DAY
from smart_trader_tests.test_scoring import frame, wallet

DAY = dt.date(2025, 3, 10)


def _gold(rows: list[tuple[str, str]]) -> pl.DataFrame:
    """(wallet, tier) in rank order."""
    return pl.DataFrame(
        {
            "wallet_address": [w for w, _ in rows],
            "tier": [t for _, t in rows],
            "rank": list(range(1, len(rows) + 1)),
        }
    )


def test_report_figures_by_hand() -> None:
    truth = pl.DataFrame(
        {
            "wallet_address": ["s1", "s2", "s3", "s4", "l1", "b1", "w1", "n1"],
            "archetype": ["smart"] * 4 + ["lucky", "bag_holder", "wash", "noise"],
        }
    )
    gold = _gold([("s1", "ELITE"), ("l1", "ELITE"), ("s2", "STRONG"), ("w1", "PROMISING")])
    silver = pl.DataFrame({"wallet_address": ["s1", "s2", "s3", "s4", "l1", "w1", "n1"]})
    performance = pl.DataFrame(
        {
            "evaluated_on": [DAY] * 4,
            "picked_on": [DAY - dt.timedelta(days=7)] * 4,
            "tier": ["ELITE", "ELITE", "BASELINE", "BASELINE"],
            "forward_total_pnl_usd": [10.0, -2.0, -1.0, 3.0],
        }
    )
    report = quality_report(gold, silver, truth, top_n=2, performance=performance)
    assert report["precision"]["gold"] == {"wallets": 4, "smart": 2, "precision": 0.5}
    assert report["precision"]["elite"] == {"wallets": 2, "smart": 1, "precision": 0.5}
    assert report["precision"]["top_2"] == {"wallets": 2, "smart": 1, "precision": 0.5}
    assert report["recall"] == {"smart_in_gold": 2, "smart_in_silver": 4, "recall": 0.5}
    assert report["luck_share"] == 0.25
    assert report["not_traders_in_gold"]["wash"] == 1
    assert report["not_traders_in_gold"]["bot"] == 0
    makeup = {r["archetype"]: (r["wallets"], r["share"]) for r in report["makeup"]}
    assert makeup == {"smart": (2, 0.5), "lucky": (1, 0.25), "wash": (1, 0.25)}
    elite, baseline = report["forward"]["tiers"][0], report["forward"]["tiers"][3]
    assert elite == {
        "tier": "ELITE",
        "wallets": 2,
        "share_positive": 0.5,
        "median_forward_total_pnl_usd": 4.0,
        "mean_forward_total_pnl_usd": 4.0,
    }
    assert baseline["median_forward_total_pnl_usd"] == 1.0
    assert report["forward"]["tiers"][1]["wallets"] == 0
    json.dumps(report)  # --json prints it as is
    text = render(report, DAY, 7)
    assert "forward performance of the picks of 2025-03-03" in text
    no_forward = quality_report(gold, silver, truth, top_n=2, performance=None)
    assert NO_FORWARD in render(no_forward, DAY, 7)


def test_smart_misses_count_each_failing_rule_and_the_rule_alone() -> None:
    wallets = frame(
        wallet("in_gold"),  # eligible: not a miss
        wallet("luck_only", skill_p_value=0.2),
        wallet("luck_and_bags", skill_p_value=0.2, open_cost_share=0.9),
        wallet("few_tokens", tokens_realized=1, skill_p_value=0.3),
        wallet("not_smart", skill_p_value=0.9),
    )
    truth = pl.DataFrame(
        {
            "wallet_address": ["in_gold", "luck_only", "luck_and_bags", "few_tokens", "not_smart"],
            "archetype": ["smart"] * 4 + ["noise"],
        }
    )
    misses = smart_misses(wallets, truth, SCORED_DAY, EligibilityThresholds())
    assert misses == [
        {"rule": "skill", "failing": 3, "failing_alone": 1},
        {"rule": "open_cost_share", "failing": 1, "failing_alone": 0},
        {"rule": "tokens_realized", "failing": 1, "failing_alone": 0},
    ]
    report = quality_report(_gold([("in_gold", "PROMISING")]), wallets, truth, 2, None)
    text = render(report | {"smart_misses": misses}, SCORED_DAY, 7)
    assert "why smart wallets of silver are not in gold" in text and "skill" in text


def test_quality_cli_runs_days_and_prints_the_sections(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "SMART_TRADER_SANDBOX_TOKENS": "24",
        "SMART_TRADER_SANDBOX_WALLET_SCALE": "0.05",
        "SMART_TRADER_TOKENS_PER_DAY": "3",
        "SMART_TRADER_HOLDERS_PER_TOKEN": "10",
        "SMART_TRADER_MAX_HOLDER_PAGES": "2",
        "SMART_TRADER_HELIUS_MAX_ADDRESSES": "20",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["quality", "--seed", "3", "--days", "2", "--end-day", DAY.isoformat()]) == 0
    out, err = capsys.readouterr()
    assert "day 1/2 2025-03-09" in err and "day 2/2 2025-03-10" in err
    assert "sandbox" in err  # the sandbox's own time, apart
    for section in (
        "quality of gold/smart_wallets on 2025-03-10 (sandbox seed 3)",
        "gold make-up by hidden archetype",
        "precision (share smart)",
        "  gold ",
        "  elite ",
        "  top_20 ",
        "recall:",
        "lucky + bag_holder share of gold:",
        "not traders in gold: bot ",
        "snipers in gold:",
        f"forward performance: {NO_FORWARD}",  # 2 days: no day has picks 7 days back
    ):
        assert section in out, section
