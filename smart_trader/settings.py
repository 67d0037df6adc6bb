"""Deployment settings of the code location (DATA_CONTRACT.md "Configuration defaults").

Partition mappings and computations read the same values, so they are loaded once, from the
environment, when the definitions load; a bad value fails there with the setting's name.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from solders.pubkey import Pubkey

WSOL = "So11111111111111111111111111111111111111112"
NATIVE_SOL = "So11111111111111111111111111111111111111111"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
INCINERATOR = "1nc1nerator11111111111111111111111111111111"

DEFAULT_QUOTE_ASSETS: dict[str, str] = {
    WSOL: "wrapped SOL",
    USDC: "USD Coin",
    USDT: "Tether USD",
}
DEFAULT_NON_TRADE_SOURCES: dict[str, str] = {
    "stake_pool": "liquid-staking deposits and withdrawals (e.g. SOL <-> BNSOL), not trades",
}


class SettingsError(ValueError):
    """A deployment setting is invalid; the message names the setting."""


def _check_address(address: str, setting: str) -> str:
    try:
        Pubkey.from_string(address)
    except ValueError as exc:
        raise ValueError(f"{setting}: {address!r} is not a base58 Solana address") from exc
    return address


# Strict: a JSON `true` is no count and NaN or inf no threshold (NaN would pass no bound and
# silently empty gold). Numbers only; an int is a valid float.
STRICT = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class TokenFilters(BaseModel):
    model_config = STRICT

    min_liquidity_usd: float = Field(default=1_000_000.0, ge=0)
    max_liquidity_usd: float = Field(default=3_000_000.0, gt=0)
    min_volume_1h_usd: float = Field(default=100_000.0, ge=0)
    min_price_change_2h_pct: float = 0.0
    min_price_change_24h_pct: float = 30.0

    @model_validator(mode="after")
    def _liquidity_bounds(self) -> TokenFilters:
        if self.min_liquidity_usd > self.max_liquidity_usd:
            raise ValueError("min_liquidity_usd is above max_liquidity_usd")
        return self


class EligibilityThresholds(BaseModel):
    """gold/smart_wallets eligibility (DATA_CONTRACT.md); every bound is inclusive."""

    model_config = STRICT

    min_trade_count: int = Field(default=10, ge=0)
    min_tokens_realized: int = Field(default=3, ge=0)
    min_realized_pnl_usd: float = 10.0
    min_roi_pct: float = 1.0
    min_win_rate_pct: float = Field(default=40.0, ge=0, le=100)
    min_pnl_without_best_token_usd: float = 0.0
    min_total_pnl_usd: float = 0.0
    max_trades_per_day: int = Field(default=100, ge=1)
    min_avg_hold_seconds: float = Field(default=60.0, ge=0)
    max_unpriced_trade_share: float = Field(default=0.25, ge=0, le=1)
    max_unmatched_sell_share: float = Field(default=0.5, ge=0, le=1)
    max_days_since_last_trade: int = Field(default=6, ge=0)
    max_skill_p_value: float = Field(default=0.05, ge=0, le=1)
    max_open_cost_share: float = Field(default=0.5, ge=0, le=1)
    # Not a contract rule; off (None) unless set. The best token's share of realized PnL at most:
    # the quality report's proposal against lucky wallets whose one or two outsized winners pass
    # "profitable without its best token" (README, Judging gold).
    max_best_token_share: float | None = Field(default=None, ge=0, le=1)


class Settings(BaseModel):
    model_config = STRICT

    lookback_days: int = Field(default=30, ge=1, le=365)
    tracking_days: int = Field(default=7, ge=1, le=365)
    tokens_per_day: int = Field(default=50, ge=1, le=1000)
    holders_per_token: int = Field(default=100, ge=1, le=10_000)
    max_holder_pages: int = Field(default=10, ge=1, le=100)
    max_swaps_per_fetch: int = Field(default=20_000, ge=100)
    helius_max_addresses: int = Field(default=100, ge=1, le=100_000)
    # Forward performance: partition E judges the picks of E − forward_days against a baseline
    # of up to baseline_size non-gold wallets of wallet_pnl (DATA_CONTRACT.md).
    forward_days: int = Field(default=7, ge=1, le=365)
    baseline_size: int = Field(default=200, ge=0, le=100_000)
    # The intraday sensor (off by default: each evaluation reads the live token list).
    intraday_interval_seconds: int = Field(default=3600, ge=60, le=86_400)
    intraday_change_share: float = Field(default=0.2, gt=0, le=1)
    # Days of Delta time travel the lake's upkeep keeps; Delta's log keeps 30 days by default.
    time_travel_days: int = Field(default=7, ge=1, le=30)
    token_filters: TokenFilters = TokenFilters()
    eligibility: EligibilityThresholds = EligibilityThresholds()
    quote_assets: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_QUOTE_ASSETS))
    excluded_wallets: dict[str, str] = Field(default_factory=lambda: {INCINERATOR: "incinerator"})
    # Swap sources that are not trades (each with a reason): silver ignores their swaps.
    non_trade_sources: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_NON_TRADE_SOURCES)
    )

    @field_validator("quote_assets")
    @classmethod
    def _quote_addresses(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("quote_assets: at least one quote asset is required")
        for address in value:
            _check_address(address, "quote_assets")
        return value

    @field_validator("excluded_wallets")
    @classmethod
    def _excluded_addresses(cls, value: dict[str, str]) -> dict[str, str]:
        for address in value:
            _check_address(address, "excluded_wallets")
        return value

    @property
    def quote_asset_set(self) -> frozenset[str]:
        return frozenset(self.quote_assets)

    @property
    def non_trade_source_set(self) -> frozenset[str]:
        return frozenset(self.non_trade_sources)


# Environment variable → field; nested models and maps are given as JSON.
ENV_PREFIX = "SMART_TRADER_"
_ENV_FIELDS = (
    "lookback_days",
    "tracking_days",
    "tokens_per_day",
    "holders_per_token",
    "max_holder_pages",
    "max_swaps_per_fetch",
    "helius_max_addresses",
    "forward_days",
    "baseline_size",
    "intraday_interval_seconds",
    "intraday_change_share",
    "time_travel_days",
    "token_filters",
    "eligibility",
    "quote_assets",
    "excluded_wallets",
    "non_trade_sources",
)
# The other SMART_TRADER_* variables, read where their part is wired (lake, sandbox). Every
# variable of the prefix is listed here or above, so a misspelt one is an error, not ignored.
OTHER_VARIABLES: dict[str, str] = {
    "LAKE_URI": "lake root: a folder or s3://bucket/prefix",
    "SANDBOX_SEED": "the sandbox market's seed (an integer ≥ 0)",
    "SANDBOX_FAULTS": "sandbox fault knobs, name=rate,...",
    "SANDBOX_URL": "a sandbox served over HTTP instead of the in-process one",
    "SANDBOX_STATE_DIR": "where the in-process sandbox keeps its Helius webhooks",
    "RECEIVER_SPOOL": "the webhook receiver's durable spool folder",
    "SANDBOX_TOKENS": "the sandbox market's memecoins (an integer ≥ 8; default 400)",
    "SANDBOX_WALLET_SCALE": "multiplies every sandbox archetype's wallet count (> 0; default 1)",
    "SANDBOX_WALLETS": "sandbox wallets of single archetypes, archetype=count,...",
    "SANDBOX_ACTIVITY": "multiplies how often each sandbox wallet trades (> 0; default 1)",
}


def known_variables() -> list[str]:
    """Every SMART_TRADER_* variable the code location reads."""
    names = [name.upper() for name in _ENV_FIELDS] + list(OTHER_VARIABLES)
    return sorted(ENV_PREFIX + name for name in names)


def _unknown_variables(env: Mapping[str, str]) -> list[str]:
    known = known_variables()
    problems = []
    for name in sorted(n for n in env if n.startswith(ENV_PREFIX) and n not in known):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(known)}"
        problems.append(f"{name} is not a setting{hint}")
    return problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from SMART_TRADER_<FIELD> variables (JSON for the nested ones)."""
    env = os.environ if environ is None else environ
    if unknown := _unknown_variables(env):
        raise SettingsError("invalid setting: " + "; ".join(unknown))
    raw: dict[str, object] = {}
    for name in _ENV_FIELDS:
        value = env.get(ENV_PREFIX + name.upper())
        if value is None or value == "":
            continue
        try:
            raw[name] = json.loads(value)
        except json.JSONDecodeError:
            raise SettingsError(
                f"invalid setting: {ENV_PREFIX}{name.upper()}: {value!r} is not a number or JSON"
            ) from None
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{str(err['loc'][0]).upper()}"
            + (f" ({'.'.join(str(p) for p in err['loc'][1:])})" if len(err["loc"]) > 1 else "")
            + f": {err['msg']}"
            + (f" (got {err['input']!r})" if not isinstance(err["input"], dict) else "")
            for err in exc.errors()
        )
        raise SettingsError(f"invalid setting: {problems}") from None
