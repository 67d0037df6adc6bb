"""Gold's asset checks: every ranked wallet is eligible, tiered, scored and ranked per contract."""

from collections.abc import Callable

import polars as pl

from smart_trader import gold_history, quality, schemas
from smart_trader.defs.bronze.pick_swaps import picked_cohort
from smart_trader.defs.checks import CheckContext, Rule, RuleCheck, table_rules
from smart_trader.defs.gold.assets import SMART_WALLETS
from smart_trader.defs.gold.history import WALLET_HISTORY
from smart_trader.defs.gold.pick_performance import PICK_PERFORMANCE
from smart_trader.pnl import forward
from smart_trader.settings import Settings


def _gold_in_silver(c: CheckContext) -> pl.DataFrame:
    wallets = c.read(schemas.WALLET_PNL).get_column("wallet_address")
    return quality.missing_references(
        c.read(schemas.SMART_WALLETS).select("wallet_address", "rank"), "wallet_address", wallets
    )


def _gold_and_silver(
    rule: Callable[[pl.DataFrame, pl.DataFrame, CheckContext], pl.DataFrame],
) -> Rule:
    return lambda c: rule(c.read(schemas.SMART_WALLETS), c.read(schemas.WALLET_PNL), c)


def _gold(rule: Callable[[pl.DataFrame], pl.DataFrame]) -> Rule:
    return lambda c: rule(c.read(schemas.SMART_WALLETS))


def gold_rules(settings: Settings) -> list[RuleCheck]:
    s = settings
    return [
        *table_rules(SMART_WALLETS, schemas.SMART_WALLETS),
        # gold/smart_wallets
        RuleCheck(
            SMART_WALLETS,
            "wallets_in_silver",
            "Every wallet is in wallet_pnl(D).",
            _gold_in_silver,
        ),
        RuleCheck(
            SMART_WALLETS,
            "matches_silver",
            "Every metric gold copies equals the wallet's wallet_pnl(D) value.",
            _gold_and_silver(lambda g, w, _: quality.gold_silver_mismatches(g, w)),
        ),
        RuleCheck(
            SMART_WALLETS,
            "eligibility",
            "Every wallet meets every eligibility rule on its wallet_pnl(D) row.",
            _gold_and_silver(
                lambda g, w, c: quality.eligibility_violations(g, w, c.day, s.eligibility)
            ),
        ),
        RuleCheck(
            SMART_WALLETS,
            "bot_filter",
            f"No wallet over max_trades_per_day ({s.eligibility.max_trades_per_day}) or under "
            f"min_avg_hold_seconds ({s.eligibility.min_avg_hold_seconds}).",
            _gold_and_silver(lambda g, w, c: quality.bot_violations(g, w, c.day, s.eligibility)),
        ),
        RuleCheck(
            SMART_WALLETS,
            "tier",
            "tier is the first of ELITE (realized >= 1000, roi >= 30, win rate >= 60), STRONG "
            "(>= 100, >= 15, >= 40), PROMISING that holds.",
            _gold(quality.tier_violations),
        ),
        RuleCheck(
            SMART_WALLETS,
            "score",
            "score is the contract's formula on the row's own columns, rounded to 9 decimals.",
            _gold(quality.score_violations),
        ),
        RuleCheck(
            SMART_WALLETS,
            "rank_order",
            "rank is 1..n without gaps in the order tier (ELITE, STRONG, PROMISING), score "
            "desc, realized_pnl_usd desc, wallet_address asc.",
            _gold(quality.rank_violations),
        ),
        RuleCheck(
            SMART_WALLETS,
            "eligible_wallets_ranked",
            "Every wallet of wallet_pnl(D) that meets every eligibility rule is ranked.",
            _gold_and_silver(
                lambda g, w, c: quality.eligible_but_unranked(g, w, c.day, s.eligibility)
            ),
            blocking=False,
        ),
    ]


def history_rules() -> list[RuleCheck]:
    def history(c: CheckContext) -> pl.DataFrame:
        return c.read(schemas.WALLET_HISTORY)

    return [
        *table_rules(WALLET_HISTORY, schemas.WALLET_HISTORY),
        RuleCheck(
            WALLET_HISTORY,
            "days_in_gold",
            "first_gold_date ≤ last_gold_date ≤ D and 1 ≤ days_in_gold ≤ the days between them.",
            lambda c: gold_history.span_violations(history(c), c.day),
        ),
        RuleCheck(
            WALLET_HISTORY,
            "ranks",
            "rank is set exactly when last_gold_date is D; best_rank ≤ rank; "
            "rank_change = previous_rank − rank.",
            lambda c: gold_history.rank_violations(history(c)),
        ),
        RuleCheck(
            WALLET_HISTORY,
            "matches_gold",
            "The wallets ranked on D and their ranks are gold(D)'s.",
            lambda c: gold_history.gold_mismatches(history(c), c.read(schemas.SMART_WALLETS)),
        ),
    ]


def expected_cohort(c: CheckContext) -> pl.DataFrame:
    """The cohort rule applied to gold(D) and wallet_pnl(D), D = E − forward_days."""
    picked = forward.picked_on(c.day, c.settings.forward_days)
    return picked_cohort(
        c.instance,
        picked,
        c.read(schemas.SMART_WALLETS, [picked]),
        c.read(schemas.WALLET_PNL, [picked]),
        c.settings.baseline_size,
    )


def pick_performance_rules(settings: Settings) -> list[RuleCheck]:
    def performance(c: CheckContext) -> pl.DataFrame:
        return c.read(schemas.PICK_PERFORMANCE)

    return [
        *table_rules(PICK_PERFORMANCE, schemas.PICK_PERFORMANCE),
        RuleCheck(
            PICK_PERFORMANCE,
            "tiers",
            "tier is ELITE, STRONG, PROMISING or BASELINE; rank is null exactly for BASELINE.",
            lambda c: forward.tier_violations(performance(c)),
        ),
        RuleCheck(
            PICK_PERFORMANCE,
            "cohort",
            "The rows are the cohort of D = E − forward_days: gold(D) with its tiers and ranks, "
            f"plus up to baseline_size ({settings.baseline_size}) wallets of wallet_pnl(D) not "
            "in gold(D) with the smallest sha256(wallet_address), tier BASELINE; none if gold(D) "
            "was never materialized.",
            lambda c: forward.cohort_mismatches(performance(c), expected_cohort(c)),
        ),
        RuleCheck(
            PICK_PERFORMANCE,
            "elite_beats_baseline",
            "ELITE's median forward_total_pnl_usd is above BASELINE's (passes when either tier "
            "has no wallet: nothing to compare).",
            lambda c: forward.elite_not_above_baseline(performance(c)),
            blocking=False,
        ),
    ]
