"""Deployment settings: defaults per the contract, and errors that name the bad setting."""

from __future__ import annotations

import pytest

from smart_trader.settings import USDC, WSOL, SettingsError, load_settings


def test_defaults_are_the_contracts() -> None:
    settings = load_settings({})
    assert (settings.lookback_days, settings.tracking_days) == (30, 7)
    assert settings.tokens_per_day == 50 and settings.holders_per_token == 100
    assert settings.max_swaps_per_fetch == 20_000 and settings.helius_max_addresses == 100
    assert {WSOL, USDC} <= settings.quote_asset_set
    assert settings.token_filters.min_price_change_24h_pct == 30.0
    assert settings.eligibility.min_win_rate_pct == 40.0


def test_environment_overrides() -> None:
    settings = load_settings(
        {"SMART_TRADER_LOOKBACK_DAYS": "14", "SMART_TRADER_ELIGIBILITY": '{"min_trade_count": 3}'}
    )
    assert settings.lookback_days == 14
    assert settings.eligibility.min_trade_count == 3
    assert settings.eligibility.min_roi_pct == 1.0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SMART_TRADER_LOOKBACK_DAYS": "0"}, "SMART_TRADER_LOOKBACK_DAYS"),
        ({"SMART_TRADER_TRACKING_DAYS": "seven"}, "SMART_TRADER_TRACKING_DAYS"),
        ({"SMART_TRADER_QUOTE_ASSETS": '{"not-an-address": "x"}'}, "not-an-address"),
        ({"SMART_TRADER_ELIGIBILITY": '{"min_win_rate_pct": 400}'}, "min_win_rate_pct"),
        ({"SMART_TRADER_ELIGIBILITY": '{"min_trade_cout": 3}'}, "min_trade_cout"),
        (
            {"SMART_TRADER_TOKEN_FILTERS": '{"min_liquidity_usd": 5e6, "max_liquidity_usd": 1e6}'},
            "SMART_TRADER_TOKEN_FILTERS",
        ),
    ],
)
def test_bad_settings_fail_naming_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)
