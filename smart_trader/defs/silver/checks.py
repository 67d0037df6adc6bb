"""Silver's asset checks: FIFO invariants, marks, and wallet_pnl reconciled with its tokens."""

import polars as pl

from smart_trader import quality, schemas
from smart_trader.defs.checks import CheckContext, RuleCheck, table_rules, wallets_tracked
from smart_trader.defs.silver.assets import WALLET_PNL, WALLET_TOKEN_PNL, unfetched_days
from smart_trader.pnl.checks import fifo_invariant_violations, reconciliation_mismatches
from smart_trader.pnl.marks import MARK_SOURCES
from smart_trader.settings import Settings


def _window_fetched(c: CheckContext) -> pl.DataFrame:
    missing = unfetched_days(c.instance, c.day, c.settings.lookback_days)
    return pl.DataFrame(
        {"day_with_whale_holders_but_no_transaction_history": missing},
        schema={"day_with_whale_holders_but_no_transaction_history": pl.Date},
    )


def silver_rules(settings: Settings) -> list[RuleCheck]:
    quotes = settings.quote_asset_set
    return [
        *table_rules(WALLET_TOKEN_PNL, schemas.WALLET_TOKEN_PNL),
        *table_rules(WALLET_PNL, schemas.WALLET_PNL),
        # silver/wallet_token_pnl
        wallets_tracked(WALLET_TOKEN_PNL, schemas.WALLET_TOKEN_PNL),
        RuleCheck(
            WALLET_TOKEN_PNL,
            "fifo_invariants",
            "matched_qty + unmatched_sell_qty = sold_qty; open_qty = bought_qty - matched_qty "
            ">= 0; winning_sell_count <= matched_sell_count <= sell_count (up to eps residue).",
            lambda c: fifo_invariant_violations(c.read(schemas.WALLET_TOKEN_PNL)),
        ),
        RuleCheck(
            WALLET_TOKEN_PNL,
            "no_quote_assets",
            "Quote assets are cash: no PnL row for a quote asset.",
            lambda c: quality.quote_asset_rows(c.read(schemas.WALLET_TOKEN_PNL), quotes),
        ),
        RuleCheck(
            WALLET_TOKEN_PNL,
            "valid_marks",
            "mark_price_usd is finite and > 0 with a known mark_source; unrealized_pnl_usd = "
            "open_qty * mark_price_usd - open_cost_usd.",
            lambda c: quality.mark_violations(c.read(schemas.WALLET_TOKEN_PNL), MARK_SOURCES),
        ),
        # silver/wallet_pnl
        wallets_tracked(WALLET_PNL, schemas.WALLET_PNL),
        RuleCheck(
            WALLET_PNL,
            "window_fetched",
            "Every day P of the lookback window with whale_holders(P) has transaction_history(P).",
            _window_fetched,
        ),
        RuleCheck(
            WALLET_PNL,
            "reconciles_with_tokens",
            "Counts and sums of wallet_pnl equal the sums of the wallet's wallet_token_pnl rows "
            "(tokens_traded, tokens_realized included); every wallet_token_pnl wallet has a row.",
            lambda c: reconciliation_mismatches(
                c.read(schemas.WALLET_TOKEN_PNL), c.read(schemas.WALLET_PNL)
            ),
        ),
        RuleCheck(
            WALLET_PNL,
            "derived_metrics",
            "total_pnl_usd = realized + unrealized; roi_pct, win_rate_pct and "
            "best_token_realized_pnl_usd follow their definitions.",
            lambda c: quality.wallet_metric_violations(
                c.read(schemas.WALLET_PNL), c.read(schemas.WALLET_TOKEN_PNL)
            ),
        ),
    ]
