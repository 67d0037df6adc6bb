"""Deployment settings: defaults per the contract, and errors that name the bad setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smart_trader.sandbox.environment import check_sandbox_environment
from smart_trader.settings import USDC, WSOL, SettingsError, known_variables, load_settings


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


@pytest.mark.parametrize(
    ("env", "named"),
    [
        # JSON true is not a count, and NaN/inf pass no bound (gold was silently empty).
        ({"SMART_TRADER_LOOKBACK_DAYS": "true"}, "SMART_TRADER_LOOKBACK_DAYS"),
        ({"SMART_TRADER_ELIGIBILITY": '{"min_trade_count": true}'}, "min_trade_count"),
        ({"SMART_TRADER_ELIGIBILITY": '{"min_roi_pct": NaN}'}, "min_roi_pct"),
        ({"SMART_TRADER_ELIGIBILITY": '{"min_realized_pnl_usd": -Infinity}'}, "min_realized"),
        ({"SMART_TRADER_TOKEN_FILTERS": '{"min_price_change_24h_pct": NaN}'}, "min_price_change"),
        ({"SMART_TRADER_HOLDERS_PER_TOKEN": "8.0"}, "SMART_TRADER_HOLDERS_PER_TOKEN"),
    ],
)
def test_strict_types(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_a_whole_number_is_a_valid_threshold() -> None:
    settings = load_settings({"SMART_TRADER_ELIGIBILITY": '{"min_roi_pct": 2}'})
    assert settings.eligibility.min_roi_pct == 2.0


def test_a_misspelt_variable_is_an_error_suggesting_the_known_one() -> None:
    with pytest.raises(SettingsError) as failure:
        load_settings({"SMART_TRADER_LOKBACK_DAYS": "14"})
    message = str(failure.value)
    assert "SMART_TRADER_LOKBACK_DAYS is not a setting" in message
    assert "did you mean SMART_TRADER_LOOKBACK_DAYS?" in message


def test_every_variable_the_code_reads_is_known() -> None:
    """A SMART_TRADER_* name written anywhere in the package is in the settings' registry, so
    the unknown-variable error never refuses a real setting."""
    package = Path(__file__).resolve().parents[1] / "smart_trader"
    written = {
        name
        for path in package.rglob("*.py")
        for name in re.findall(r"SMART_TRADER_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])", path.read_text())
    }
    assert written - set(known_variables()) == set()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SMART_TRADER_SANDBOX_SEED": "abc"}, "SMART_TRADER_SANDBOX_SEED"),
        ({"SMART_TRADER_SANDBOX_SEED": "-1"}, "SMART_TRADER_SANDBOX_SEED"),
        ({"SMART_TRADER_SANDBOX_FAULTS": "bogus=0.1"}, r"SMART_TRADER_SANDBOX_FAULTS.*bogus"),
        ({"SMART_TRADER_SANDBOX_FAULTS": "server_error=2"}, "SMART_TRADER_SANDBOX_FAULTS"),
        ({"SMART_TRADER_SANDBOX_URL": "not a url"}, "SMART_TRADER_SANDBOX_URL"),
    ],
)
def test_bad_sandbox_settings_fail_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        check_sandbox_environment(env, str(tmp_path / "sandbox"))


def test_an_unwritable_sandbox_state_dir_fails_naming_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # root may write anywhere, but not below a regular file
    env = {"SMART_TRADER_SANDBOX_STATE_DIR": str(blocker / "state")}
    with pytest.raises(SettingsError, match=r"SMART_TRADER_SANDBOX_STATE_DIR.*not a writable"):
        check_sandbox_environment(env, "unused")
    check_sandbox_environment({}, str(tmp_path / "state"))  # a good folder is created
    assert (tmp_path / "state").is_dir()
