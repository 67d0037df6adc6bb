"""Tokens and their prices, liquidity and volumes at any instant.

Log price at 00:00 of day d (the day's anchor) is a pure function of (seed, token, d):
    base + slow value noise + a truncated AR(1) sum of bounded daily shocks
    + the pump of day d-1 (if the token was hot that day) + an active rug (if any).
Within a day the path interpolates five knots (start, ramp start, ramp end/peak, a dip knot,
end) plus bounded value noise that vanishes at midnight, so both days agree on the midnight
price. A token is "hot" on day d (it pumps during d and dumps during d+1) when its parity
matches d, its end-of-day liquidity is inside the default filter range and no rug touches it;
the bounds make every hot token pass the default filters at the end of its day, so the daily
top-50 is always full.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
from solders.pubkey import Pubkey

from smart_trader.sandbox.hashing import F64, I64, on_curve_keys, uniform, value_noise
from smart_trader.settings import USDC, USDT, WSOL

DAY = 86_400
# Days a per-day cache holds: more than any request walks (a wallet's trades over the longest
# lookback settings allow, 365 days, plus the episodes that run into it). A request walks its
# days in order, and an LRU smaller than the walk misses on every day: at a 90-day lookback
# the 48-day caches regenerated every day for every wallet (4.6–4.9 s a wallet, 0.0 s now).
DAYS_CACHED = 400
HOT_SHARE = 0.16  # hot tokens per day / memecoins (64 of the default 400)
# asset index: 0 wSOL, 1 USDC, 2 USDT, 3..3+n-1 memecoins, 3+n the liquid-staking token
SOL, USDC_I, USDT_I, FIRST_MEME = 0, 1, 2, 3
# BNSOL, the LST that stake_pool swaps deposit SOL into (external-apis.md §7)
LST_MINT = "BNso1VUJnh4zcfpZa6986Ea66P6TCp59hvtNJ8b1X85"
_LST_RATE0, _LST_YIELD = 1.06, 0.07  # SOL per LST at 2024-01-01, staking yield a year
_LST_EPOCH = 1_704_067_200

_AR_LAGS = 30
_AR_PHI = 0.75
_SHOCK = 0.08  # |daily AR shock| bound; the 24h-change guarantee below relies on it
_NOISE_SLOW, _NOISE_FAST = 0.03, 0.01  # intraday noise bounds (sum < min dip 0.06)
_LIQ_OK = (1_080_000.0, 2_850_000.0)  # inside the default [1M, 3M] filter, with a margin

# tags of the random streams
T_EPS, T_TREND, T_HOT, T_JUMP, T_RUG, T_RUGDAY, T_RUGLEN, T_RUGDEPTH = range(10, 18)
T_LIQ, T_KNOT1, T_KNOT2, T_KNOT3, T_KNOT4, T_NOISE1, T_NOISE2, T_TURN = range(20, 28)
T_SOL1, T_SOL2, T_SOL3 = 30, 31, 32

_SYLLABLES = [
    "bo",
    "nk",
    "pe",
    "pe",
    "wi",
    "f",
    "mo",
    "o",
    "do",
    "ge",
    "ca",
    "t",
    "fro",
    "g",
    "sha",
    "ba",
    "zu",
    "ki",
    "lo",
    "ra",
    "mi",
    "ne",
    "pu",
    "mp",
    "chi",
    "ll",
    "gi",
    "ga",
    "to",
    "ad",
]
_NAME_SUFFIX = ["", " Inu", " Cat", " Coin", " AI", " on Sol", " 2.0", " Frog", " Wif Hat"]

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A small thread-safe LRU for per-day tables (the values never depend on request order)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value


@dataclass(frozen=True)
class DayKnots:
    """Per memecoin for one day: knot times (s from 00:00) and log prices, ramp, volume rate."""

    times: F64  # (n, 5)
    values: F64  # (n, 5)
    hot: npt.NDArray[np.bool_]
    ramp_start: F64
    ramp_end: F64
    rate: F64  # USD volume per second outside the ramp (x4 inside)
    liq0: F64  # liquidity at 00:00 of the day
    liq1: F64  # liquidity at 00:00 of the next day


class Tokens:
    """The static token universe and the price model of one seed."""

    def __init__(self, seed: int, n_tokens: int) -> None:
        self.seed = seed
        self.n = n = n_tokens
        self.hot_per_day = max(1, round(HOT_SHARE * n))
        self.lst = FIRST_MEME + n
        rng = np.random.default_rng([seed, 1, n])
        self.mints: list[Pubkey] = on_curve_keys(rng, n)
        self.decimals = np.where(rng.random(n) < 0.7, 6, 9).astype(np.int64)
        supply_ui = np.where(
            self.decimals == 9,
            np.where(rng.random(n) < 0.6, 1e9, rng.uniform(1e8, 1e9, n)),
            10 ** rng.uniform(8, 10, n),
        ).round()
        self.supply_ui: F64 = supply_ui
        self.circulating_ui: F64 = (supply_ui * rng.uniform(0.6, 1.0, n)).round()
        in_range = rng.random(n) < 0.65
        self.liq_base: F64 = np.where(
            in_range,
            np.exp(rng.uniform(np.log(1.15e6), np.log(2.6e6), n)),
            np.exp(rng.uniform(np.log(5e4), np.log(4e7), n)),
        )
        mc = self.liq_base * rng.uniform(4, 20, n)
        self.base_log_price: F64 = np.log(mc / self.circulating_ui)
        self.parity = rng.integers(0, 2, n)
        self.listed_at = rng.integers(1_672_531_200, 1_704_067_200, n)  # during 2023
        self.holder_base = rng.integers(800, 40_000, n)
        self.bonding = rng.random(n) < 0.4
        self.symbols, self.names = self._names(rng, n)
        self.addresses: list[str] = [WSOL, USDC, USDT, *(str(m) for m in self.mints), LST_MINT]
        self.asset_symbols = ["SOL", "USDC", "USDT", *self.symbols, "BNSOL"]
        self.asset_decimals = np.concatenate([[9, 6, 6], self.decimals, [9]]).astype(np.int64)
        self.index = {a: i for i, a in enumerate(self.addresses)}
        # static facts of every asset (quote assets first), for the token list
        self.asset_names = ["Wrapped SOL", "USD Coin", "USDT", *self.names]
        self.asset_supply = np.concatenate([[5.9e8, 8.0e9, 2.4e9], supply_ui])
        self.asset_circulating = np.concatenate([[5.2e8, 7.9e9, 2.4e9], self.circulating_ui])
        self.asset_listed = np.concatenate([[1_609_459_200] * 3, self.listed_at])
        self.asset_holders = np.concatenate([[2_900_000, 3_100_000, 1_900_000], self.holder_base])
        self._knots: Lru[int, DayKnots] = Lru(DAYS_CACHED)
        self._hot: Lru[int, npt.NDArray[np.bool_]] = Lru(DAYS_CACHED)

    @staticmethod
    def _names(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
        symbols: list[str] = []
        names: list[str] = []
        seen: set[str] = set()
        while len(symbols) < n:
            parts = rng.choice(_SYLLABLES, size=int(rng.integers(2, 4)))
            word = "".join(parts)[:8]
            if len(word) < 3 or word.upper() in seen:
                continue
            seen.add(word.upper())
            symbols.append(word.upper())
            names.append(word.capitalize() + str(rng.choice(_NAME_SUFFIX)))
        return symbols, names

    # --- day-level components (all tokens at once) -------------------------------------
    def _rug(self, day: int) -> F64:
        """Log-price offset of an active rug at 00:00 of `day` (0 when none)."""
        j = np.arange(self.n)
        out = np.zeros(self.n)
        s = self.seed
        for block in (day // 20, day // 20 - 1):
            has = uniform(s, T_RUG, j, block) < 0.2
            start = block * 20 + (uniform(s, T_RUGDAY, j, block) * 20).astype(np.int64)
            length = 4 + (uniform(s, T_RUGLEN, j, block) * 12).astype(np.int64)
            depth = 1.6 + 3.0 * uniform(s, T_RUGDEPTH, j, block)
            active = has & (start < day) & (day <= start + length)
            out = np.where(active, -depth, out)
        return out

    def _liquidity(self, day: int) -> F64:
        j = np.arange(self.n)
        drift = np.exp(0.12 * value_noise(self.seed, T_LIQ, j, day / 9.0))
        return self.liq_base * drift * np.where(self._rug(day) < 0, 0.04, 1.0)

    def hot(self, day: int) -> npt.NDArray[np.bool_]:
        return self._hot.get(day, lambda: self._compute_hot(day))

    def _compute_hot(self, day: int) -> npt.NDArray[np.bool_]:
        j = np.arange(self.n)
        liq_end = self._liquidity(day + 1)
        eligible = (
            (self.parity == day % 2)
            & (liq_end >= _LIQ_OK[0])
            & (liq_end <= _LIQ_OK[1])
            & (self._rug(day) == 0)
            & (self._rug(day + 1) == 0)
        )
        rank_key = np.where(eligible, uniform(self.seed, T_HOT, j, day), 2.0)
        chosen = np.argsort(rank_key, kind="stable")[: self.hot_per_day]
        out = np.zeros(self.n, dtype=bool)
        out[chosen] = eligible[chosen]
        return out

    def _jump(self, day: int) -> F64:
        # +70 % .. +500 % from the AR level
        return np.log(1.7) + (np.log(6.0) - np.log(1.7)) * uniform(
            self.seed, T_JUMP, np.arange(self.n), day
        )

    def anchor(self, day: int) -> F64:
        """Log price of every memecoin at 00:00 of `day`."""
        j = np.arange(self.n)[:, None]
        lags = np.arange(_AR_LAGS)[None, :]
        shocks = _SHOCK * (2.0 * uniform(self.seed, T_EPS, j, day - lags) - 1.0)
        ar = (shocks * (_AR_PHI**lags)).sum(axis=1) * (1 - _AR_PHI)
        trend = 0.5 * value_noise(self.seed, T_TREND, j[:, 0], day / 25.0)
        pump = np.where(self.hot(day - 1), self._jump(day - 1), 0.0)
        return self.base_log_price + trend + ar + pump + self._rug(day)

    def knots(self, day: int) -> DayKnots:
        return self._knots.get(day, lambda: self._compute_knots(day))

    def _compute_knots(self, day: int) -> DayKnots:
        s, j = self.seed, np.arange(self.n)
        a0, a1 = self.anchor(day), self.anchor(day + 1)
        hot, was_hot = self.hot(day), self.hot(day - 1)
        rug = (self._rug(day) == 0) & (self._rug(day + 1) < 0)
        u1, u2, u3, u4 = (uniform(s, t, j, day) for t in (T_KNOT1, T_KNOT2, T_KNOT3, T_KNOT4))
        h = 3600.0
        ts = np.where(
            hot, h + u1 * 12 * h, np.where(was_hot, 2 * h + u1 * 10 * h, u1 * (rug * 11 + 12) * h)
        )
        te = np.where(
            hot,
            ts + 2 * h + u2 * 5 * h,
            np.where(rug, ts + 120 + u2 * 480, ts + h + u2 * (DAY - 2 * h - ts)),
        )
        te = np.minimum(te, DAY - 1800.0)
        overshoot = np.where(hot, 0.25 * u3, 0.0)
        dip = np.where(hot, 0.06 + 0.09 * u4, 0.0)
        tx = np.where(hot, 22 * h, (te + DAY) / 2)
        times = np.stack([np.zeros(self.n), ts, te, tx, np.full(self.n, DAY)], axis=1)
        values = np.stack([a0, a0, a1 + overshoot, a1 - dip, a1], axis=1)
        liq0, liq1 = self._liquidity(day), self._liquidity(day + 1)
        turnover = np.where(
            hot,
            3e-5 + 5e-5 * uniform(s, T_TURN, j, day),
            3e-6 + 2.2e-5 * uniform(s, T_TURN, j, day),
        )
        return DayKnots(times, values, hot, ts, te, liq0 * turnover, liq0, liq1)

    # --- pointwise prices ----------------------------------------------------------------
    def meme_log_price(self, meme: npt.ArrayLike, t: npt.ArrayLike) -> F64:
        """Log USD price of memecoins (index 0..N-1) at unix seconds t (arrays broadcast)."""
        m, tt = np.broadcast_arrays(np.asarray(meme, dtype=np.int64), np.asarray(t, np.float64))
        m, tt = m.ravel(), tt.ravel()
        days = np.floor(tt / DAY).astype(np.int64)
        within = tt - days * DAY
        out = np.empty(m.shape[0])
        for d in np.unique(days):
            sel = days == d
            k = self.knots(int(d))
            kt, kv = k.times[m[sel]], k.values[m[sel]]
            w = within[sel]
            seg = (w >= kt[:, 1]).astype(np.int64) + (w >= kt[:, 2]) + (w >= kt[:, 3])
            rows = np.arange(seg.shape[0])
            t_lo, t_hi = kt[rows, seg], kt[rows, seg + 1]
            v_lo, v_hi = kv[rows, seg], kv[rows, seg + 1]
            f = np.clip((w - t_lo) / np.maximum(t_hi - t_lo, 1.0), 0.0, 1.0)
            out[sel] = v_lo + (v_hi - v_lo) * f
        envelope = np.clip(np.minimum(within, DAY - within) / 1800.0, 0.0, 1.0)
        noise = _NOISE_SLOW * value_noise(self.seed, T_NOISE1, m, tt / 1200.0)
        noise += _NOISE_FAST * value_noise(self.seed, T_NOISE2, m, tt / 120.0)
        return out + envelope * noise

    def sol_price(self, t: npt.ArrayLike) -> F64:
        tt = np.asarray(t, dtype=np.float64)
        lp = np.log(150.0) + 0.25 * value_noise(self.seed, T_SOL1, 0, tt / (20 * DAY))
        lp += 0.04 * value_noise(self.seed, T_SOL2, 0, tt / DAY)
        lp += 0.008 * value_noise(self.seed, T_SOL3, 0, tt / 3600.0)
        return np.exp(lp)

    def price(self, asset: npt.ArrayLike, t: npt.ArrayLike) -> F64:
        """USD price of any asset index at unix seconds t (arrays broadcast)."""
        a, tt = np.broadcast_arrays(np.asarray(asset, dtype=np.int64), np.asarray(t, np.float64))
        a, tt = a.ravel(), tt.ravel()
        out = np.ones(a.shape[0])
        sol = a == SOL
        if sol.any():
            out[sol] = self.sol_price(tt[sol])
        lst = a == self.lst
        if lst.any():
            years = (tt[lst] - _LST_EPOCH) / (365 * DAY)
            out[lst] = self.sol_price(tt[lst]) * _LST_RATE0 * np.exp(_LST_YIELD * years)
        meme = (a >= FIRST_MEME) & ~lst
        if meme.any():
            out[meme] = np.exp(self.meme_log_price(a[meme] - FIRST_MEME, tt[meme]))
        return out

    def liquidity(self, t: float) -> F64:
        d = int(t // DAY)
        k = self.knots(d)
        f = (t - d * DAY) / DAY
        return np.exp(np.log(k.liq0) * (1 - f) + np.log(k.liq1) * f)

    def volume(self, start: float, end: float) -> F64:
        """USD volume of every memecoin over [start, end)."""
        total = np.zeros(self.n)
        for d in range(int(start // DAY), int((end - 1) // DAY) + 1):
            k = self.knots(d)
            lo = max(start, d * DAY) - d * DAY
            hi = min(end, (d + 1) * DAY) - d * DAY
            ramp = np.clip(np.minimum(hi, k.ramp_end) - np.maximum(lo, k.ramp_start), 0, None)
            total += k.rate * ((hi - lo) + 3.0 * ramp)
        return total


def raw_amount(ui: F64, decimals: I64) -> I64:
    return np.maximum(np.floor(ui * 10.0**decimals), 1).astype(np.int64)
