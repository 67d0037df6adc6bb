"""gold/smart_wallets: eligibility, tier, score and rank, hand-computed."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from smart_trader import quality, schemas
from smart_trader.gold_rules import eligibility_failures, rank_smart_wallets
from smart_trader.settings import EligibilityThresholds

D = date(2026, 3, 10)
RULES = EligibilityThresholds.model_validate({})


def wallet(name: str, **changes: Any) -> dict[str, Any]:
    """A wallet that passes every rule by a margin (PROMISING tier); `changes` override."""
    row: dict[str, Any] = {
        "as_of_date": D,
        "wallet_address": name,
        "swap_count": 20,
        "trade_count": 20,
        "unpriced_trade_count": 0,
        "tokens_traded": 5,
        "tokens_realized": 4,
        "tokens_profitable": 3,
        "skill_p_value": 0.01,
        "open_cost_usd": 250.0,
        "open_cost_share": 0.2,
        "buy_count": 10,
        "sell_count": 10,
        "matched_sell_count": 10,
        "winning_sell_count": 5,
        "bought_usd": 1000.0,
        "sold_usd": 1050.0,
        "cost_basis_sold_usd": 1000.0,
        "unmatched_sell_usd": 0.0,
        "realized_pnl_usd": 50.0,
        "unrealized_pnl_usd": 0.0,
        "best_token_realized_pnl_usd": 20.0,
        "total_pnl_usd": 50.0,
        "roi_pct": 5.0,
        "win_rate_pct": 50.0,
        "avg_hold_seconds": 3600.0,
        "active_days": 5,
        "max_trades_per_day": 5,
        "history_truncated": False,
        "first_trade_at": datetime(2026, 3, 1, tzinfo=UTC),
        "last_trade_at": datetime(2026, 3, 9, tzinfo=UTC),
    }
    row.update(changes)
    return row


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return schemas.conform(
        pl.DataFrame(list(rows), schema=schemas.WALLET_PNL.schema, strict=False),
        schemas.WALLET_PNL,
    )


def failed_rules(**changes: Any) -> list[str]:
    out = eligibility_failures(frame(wallet("W", **changes)), D, RULES)
    row = out.row(0, named=True)
    return [name for name, value in row.items() if value is True and name != "eligible"]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"trade_count": 9}, "trade_count"),
        ({"tokens_realized": 2}, "tokens_realized"),
        (
            {"realized_pnl_usd": 9.99, "total_pnl_usd": 9.99, "best_token_realized_pnl_usd": 5.0},
            "realized_pnl",
        ),
        ({"roi_pct": 0.99}, "roi"),
        ({"roi_pct": None}, "roi"),
        ({"win_rate_pct": 39.9}, "win_rate"),
        ({"win_rate_pct": None}, "win_rate"),
        ({"best_token_realized_pnl_usd": 50.01}, "pnl_without_best_token"),
        ({"best_token_realized_pnl_usd": None}, "pnl_without_best_token"),
        ({"unrealized_pnl_usd": -60.0, "total_pnl_usd": -10.0}, "total_pnl"),
        ({"max_trades_per_day": 101}, "trades_per_day"),
        ({"avg_hold_seconds": 59.0}, "avg_hold"),
        ({"avg_hold_seconds": None}, "avg_hold"),
        ({"unpriced_trade_count": 6}, "unpriced_share"),
        ({"unmatched_sell_usd": 525.01}, "unmatched_share"),
        ({"history_truncated": True}, "not_truncated"),
        ({"last_trade_at": datetime(2026, 3, 3, 23, 59, 59, tzinfo=UTC)}, "recent"),
        ({"skill_p_value": 0.0501}, "skill"),
        ({"skill_p_value": None}, "skill"),
        ({"open_cost_usd": 1001.0, "open_cost_share": 0.5002}, "open_cost_share"),
        ({"open_cost_share": None}, "open_cost_share"),
    ],
)
def test_each_rule_fails_alone(changes: dict[str, Any], rule: str) -> None:
    assert failed_rules(**changes) == [rule]


def test_the_best_token_share_rule_applies_only_when_set() -> None:
    """Off by default (not a contract rule); set, the best token may carry at most that share
    of realized PnL, inclusive (the wallet above: realized 50, its best token 20)."""
    assert failed_rules() == []
    share = RULES.model_copy(update={"max_best_token_share": 0.3})
    assert "best_token_share" not in eligibility_failures(frame(wallet("W")), D, RULES).columns
    for best, failed in ((15.0, False), (15.01, True), (None, True)):
        out = eligibility_failures(frame(wallet("W", best_token_realized_pnl_usd=best)), D, share)
        assert out.get_column("best_token_share").to_list() == [failed], best


def test_bounds_are_inclusive() -> None:
    assert (
        failed_rules(
            trade_count=10,
            tokens_realized=3,
            realized_pnl_usd=10.0,
            total_pnl_usd=0.0,
            unrealized_pnl_usd=-10.0,
            best_token_realized_pnl_usd=10.0,
            roi_pct=1.0,
            win_rate_pct=40.0,
            max_trades_per_day=100,
            avg_hold_seconds=60.0,
            unpriced_trade_count=5,
            unmatched_sell_usd=525.0,
            last_trade_at=datetime(2026, 3, 4, tzinfo=UTC),  # D - 6 days, 00:00 UTC
            skill_p_value=0.05,
            open_cost_usd=1000.0,
            open_cost_share=0.5,
        )
        == []
    )


def test_tiers_score_and_rank() -> None:
    elite = wallet(
        "E",
        realized_pnl_usd=1000.0,
        total_pnl_usd=1000.0,
        best_token_realized_pnl_usd=400.0,
        roi_pct=30.0,
        win_rate_pct=60.0,
        matched_sell_count=3,
        winning_sell_count=3,
        tokens_realized=10,
    )
    strong = wallet("S", realized_pnl_usd=100.0, total_pnl_usd=100.0, roi_pct=15.0)
    # Two PROMISING wallets with equal score and realized PnL: wallet_address decides.
    prom_b = wallet("B")
    prom_a = wallet("A")
    # Not eligible: no row.
    out = rank_smart_wallets(
        frame(prom_b, strong, wallet("X", trade_count=1), prom_a, elite),
        as_of_date=D,
        thresholds=RULES,
    )
    assert out.schema == schemas.SMART_WALLETS.schema
    assert out.get_column("wallet_address").to_list() == ["E", "S", "A", "B"]
    assert out.get_column("tier").to_list() == ["ELITE", "STRONG", "PROMISING", "PROMISING"]
    assert out.get_column("rank").to_list() == [1, 2, 3, 4]
    assert out.get_column("as_of_date").to_list() == [D] * 4

    # E: s_pnl = log10(1001)/5, s_roi = 30/200, s_win = (3+1)/(3+2) = 0.8, s_act = 1.
    expected = 100 * (0.4 * math.log10(1001) / 5 + 0.3 * 0.15 + 0.2 * 0.8 + 0.1 * 1.0)
    assert out.get_column("score")[0] == round(expected, 9)
    # A: s_pnl = log10(51)/5, s_roi = 5/200, s_win = 6/12, s_act = 0.4.
    expected = 100 * (0.4 * math.log10(51) / 5 + 0.3 * 0.025 + 0.2 * 0.5 + 0.1 * 0.4)
    assert out.get_column("score")[2] == round(expected, 9)


def test_score_caps_and_order_within_a_tier() -> None:
    big = wallet(
        "Z",
        realized_pnl_usd=10_000_000.0,
        total_pnl_usd=10_000_000.0,
        best_token_realized_pnl_usd=10.0,
        roi_pct=500.0,
        win_rate_pct=100.0,
        matched_sell_count=8,
        winning_sell_count=8,
        tokens_realized=12,
    )
    small = wallet(
        "A", win_rate_pct=60.0, roi_pct=30.0, realized_pnl_usd=999.0, total_pnl_usd=999.0
    )
    out = rank_smart_wallets(frame(small, big), as_of_date=D, thresholds=RULES)
    assert out.get_column("wallet_address").to_list() == ["Z", "A"]
    # s_pnl and s_roi and s_act capped at 1: 100 x (0.4 + 0.3 + 0.2 x 9/10 + 0.1).
    assert out.get_column("score")[0] == pytest.approx(98.0)
    assert out.get_column("tier").to_list() == ["ELITE", "STRONG"]


def test_ties_on_score_break_by_realized_then_wallet() -> None:
    # Above 10^5 USD s_pnl is capped, so these three share one score: realized PnL descending,
    # then wallet_address ascending, decide.
    def rich(name: str, realized: float) -> dict[str, Any]:
        return wallet(name, realized_pnl_usd=realized, total_pnl_usd=realized)

    rows = [rich("C", 200_000.0), rich("A", 200_000.0), rich("B", 300_000.0)]
    out = rank_smart_wallets(frame(*rows), as_of_date=D, thresholds=RULES)
    assert out.get_column("score").n_unique() == 1
    assert out.get_column("wallet_address").to_list() == ["B", "A", "C"]


def test_no_eligible_wallet_gives_an_empty_conformed_frame() -> None:
    out = rank_smart_wallets(frame(wallet("W", trade_count=0)), as_of_date=D, thresholds=RULES)
    assert out.is_empty() and out.schema == schemas.SMART_WALLETS.schema


def test_gold_checks_hold_the_new_columns_and_rules() -> None:
    silver = frame(wallet("A"), wallet("B", skill_p_value=0.002, open_cost_share=0.1))
    gold = rank_smart_wallets(silver, as_of_date=D, thresholds=RULES)
    assert gold.get_column("skill_p_value").to_list() == [0.01, 0.002]
    assert gold.get_column("open_cost_share").to_list() == [0.2, 0.1]
    assert gold.get_column("tokens_profitable").to_list() == [3, 3]
    for rule in (quality.tier_violations, quality.score_violations, quality.rank_violations):
        assert rule(gold).is_empty()
    assert quality.gold_silver_mismatches(gold, silver).is_empty()
    assert quality.eligibility_violations(gold, silver, D, RULES).is_empty()
    # Silver that no longer passes the new rules, and gold that no longer copies silver.
    luck = silver.with_columns(skill_p_value=pl.lit(0.2), open_cost_share=pl.lit(None, pl.Float64))
    assert quality.eligibility_violations(gold, luck, D, RULES).get_column("rule").to_list() == [
        "fails open_cost_share",
        "fails skill",
        "fails open_cost_share",
        "fails skill",
    ]
    assert quality.eligible_but_unranked(gold.head(0), silver, D, RULES).height == 2
    copied = gold.with_columns(tokens_profitable=pl.lit(1, pl.Int64), skill_p_value=pl.lit(0.03))
    assert quality.gold_silver_mismatches(copied, silver).get_column("rule").to_list() == [
        "tokens_profitable differs from wallet_pnl",
        "tokens_profitable differs from wallet_pnl",
        "skill_p_value differs from wallet_pnl",
        "skill_p_value differs from wallet_pnl",
    ]
