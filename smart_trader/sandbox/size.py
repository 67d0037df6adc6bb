"""How large the sandbox market is: tokens, wallets per archetype, activity per wallet.

The defaults are the market the project was built on. Every random draw of the market is a
function of (seed, size, keys), so a size is part of the market's identity, like the seed.
Read from SMART_TRADER_SANDBOX_TOKENS, SMART_TRADER_SANDBOX_WALLET_SCALE,
SMART_TRADER_SANDBOX_WALLETS and SMART_TRADER_SANDBOX_ACTIVITY where the sandbox is built.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_TOKENS = 400
MIN_TOKENS = 8
# wallets per hidden archetype at scale 1
DEFAULT_WALLETS: dict[str, int] = {
    "smart": 300,
    "momentum": 1500,
    "noise": 5000,
    "bot": 16,
    "holder": 4000,
    "exchange": 8,
    "lucky": 400,
    "bag_holder": 400,
    "wash": 80,  # 40 pairs
    "sniper": 120,
}

ENV_TOKENS = "SMART_TRADER_SANDBOX_TOKENS"
ENV_WALLET_SCALE = "SMART_TRADER_SANDBOX_WALLET_SCALE"
ENV_WALLETS = "SMART_TRADER_SANDBOX_WALLETS"
ENV_ACTIVITY = "SMART_TRADER_SANDBOX_ACTIVITY"


class SizeError(ValueError):
    """A sandbox size setting is invalid; the message names it."""


@dataclass(frozen=True)
class MarketSize:
    """tokens: memecoins; wallet_scale multiplies every archetype's default count, `wallets`
    then sets single archetypes exactly; activity multiplies how often each wallet trades."""

    tokens: int = DEFAULT_TOKENS
    wallet_scale: float = 1.0
    wallets: tuple[tuple[str, int], ...] = ()
    activity: float = 1.0

    def __post_init__(self) -> None:
        if self.tokens < MIN_TOKENS:
            raise SizeError(f"{ENV_TOKENS}: tokens must be >= {MIN_TOKENS}, got {self.tokens}")
        for env, value in ((ENV_WALLET_SCALE, self.wallet_scale), (ENV_ACTIVITY, self.activity)):
            if not (math.isfinite(value) and value > 0):
                raise SizeError(f"{env}: must be a finite number > 0, got {value}")
        for kind, count in self.wallets:
            if kind not in DEFAULT_WALLETS:
                known = ", ".join(DEFAULT_WALLETS)
                raise SizeError(f"{ENV_WALLETS}: unknown archetype {kind!r} (known: {known})")
            if count < 0:
                raise SizeError(f"{ENV_WALLETS}: {kind} must be >= 0, got {count}")

    def wallet_counts(self) -> dict[str, int]:
        counts = {k: round(v * self.wallet_scale) for k, v in DEFAULT_WALLETS.items()}
        counts["wash"] -= counts["wash"] % 2  # wash wallets come in pairs
        for kind, count in self.wallets:
            counts[kind] = count - count % 2 if kind == "wash" else count
        return counts

    @staticmethod
    def parse_wallets(spec: str) -> tuple[tuple[str, int], ...]:
        """'smart=600,noise=2000' -> (("noise", 2000), ("smart", 600))."""
        out: dict[str, int] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kind, sep, raw = part.partition("=")
            try:
                if not sep:
                    raise ValueError
                out[kind.strip()] = int(raw)
            except ValueError:
                raise SizeError(
                    f"{ENV_WALLETS}: {part!r} is not archetype=count (e.g. smart=600)"
                ) from None
        return tuple(sorted(out.items()))


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SizeError(f"{name}: must be {what}, got {raw!r}") from None


def size_from_env(env: Mapping[str, str] | None = None) -> MarketSize:
    """The sandbox size the environment asks for; unset variables keep the defaults."""
    env = os.environ if env is None else env
    tokens = _number(env, ENV_TOKENS, int)
    scale = _number(env, ENV_WALLET_SCALE, float)
    activity = _number(env, ENV_ACTIVITY, float)
    return MarketSize(
        tokens=DEFAULT_TOKENS if tokens is None else int(tokens),
        wallet_scale=1.0 if scale is None else scale,
        wallets=MarketSize.parse_wallets(env.get(ENV_WALLETS, "")),
        activity=1.0 if activity is None else activity,
    )
