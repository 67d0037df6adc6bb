"""Wallets, their hidden archetypes, and the swaps they make.

Trading wallets act in "episodes": an episode starts on day d (its parameters come from a
generator seeded with (seed, d)), opens a position and closes it completely within EPISODE_DAYS
days. So the balance of (wallet, token) at t is the sum of the swaps before t of the episodes
started on days [day(t) - EPISODE_DAYS, day(t)]. Holder wallets keep a base balance and trade on
a per-(wallet, token) schedule (buy, buy, ..., sometimes sell), so their balance at t is closed
form. Nothing depends on which day was generated first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from solders.pubkey import Pubkey

from smart_trader.sandbox.hashing import F64, on_curve_keys, uniform
from smart_trader.sandbox.tokens import (
    DAY,
    FIRST_MEME,
    N_MEMECOINS,
    SOL,
    USDC_I,
    USDT_I,
    Tokens,
    raw_amount,
)

EPISODE_DAYS = 4
EPOCH = 1_704_067_200  # 2024-01-01: holder schedules start here
SLOT_EPOCH, SLOT_AT_EPOCH = 1_704_067_200, 240_000_000
HOLDERS_PER_TOKEN = 130

ARCHETYPE_COUNTS: dict[str, int] = {
    "smart": 300,
    "momentum": 1500,
    "noise": 5000,
    "bot": 16,
    "holder": 4000,
    "exchange": 8,
}
ARCHETYPES = list(ARCHETYPE_COUNTS)
_ACTIVITY = {"smart": 0.3, "momentum": 0.25, "noise": 0.12}

# (source, program id) of the DEXes whose pools the sandbox routes through
DEXES: list[tuple[str, str]] = [
    ("raydium", "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8"),
    ("orca", "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"),
    ("meteora", "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo"),
    ("pump_amm", "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA"),
]
PUMP_PROGRAM = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"

KIND_SWAP, KIND_ADD = 0, 1
T_HOLD_JITTER = 40

Arr = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SwapTable:
    """Columnar swap items sorted by (wallet, t, tx, ins); one row = one BirdEye item."""

    wallet: Arr
    t: Arr
    tx: Arr
    ins: Arr
    inner: Arr  # -1: the API omits inner_ins_index
    sold: Arr  # asset index
    sold_raw: Arr
    bought: Arr
    bought_raw: Arr
    sold_px: F64  # NaN: unpriced leg
    sold_npx: F64
    bought_px: F64
    bought_npx: F64
    base_is_sold: npt.NDArray[np.bool_]
    native: npt.NDArray[np.bool_]  # the SOL leg is reported with the native pseudo-mint
    pool: Arr
    kind: Arr

    @property
    def size(self) -> int:
        return int(self.wallet.shape[0])

    def take(self, idx: npt.NDArray[np.int64]) -> SwapTable:
        return SwapTable(**{f: getattr(self, f)[idx] for f in self.__dataclass_fields__})

    @staticmethod
    def concat(tables: list[SwapTable]) -> SwapTable:
        return SwapTable(
            **{
                f: np.concatenate([getattr(t, f) for t in tables])
                for f in SwapTable.__dataclass_fields__
            }
        )

    @functools.cached_property
    def _starts(self) -> Arr:
        top = int(self.wallet.max()) + 2 if self.size else 1
        return np.searchsorted(self.wallet, np.arange(top)).astype(np.int64)

    def wallet_range(self, wallet: int) -> tuple[int, int]:
        """Row range of `wallet` (the table is sorted by wallet)."""
        starts = self._starts
        if wallet + 1 >= starts.shape[0]:
            return (self.size, self.size)
        return int(starts[wallet]), int(starts[wallet + 1])

    @staticmethod
    def gather(parts: list[tuple[SwapTable, int, int]]) -> SwapTable:
        """Concatenate row ranges of several tables."""
        return SwapTable(
            **{
                f: np.concatenate([getattr(t, f)[lo:hi] for t, lo, hi in parts])
                for f in SwapTable.__dataclass_fields__
            }
        )


@dataclass
class _Actions:
    """Position changes before they become API items."""

    ep: list[Arr]
    wallet: list[Arr]
    asset: list[Arr]
    t: list[F64]
    buy: list[npt.NDArray[np.bool_]]
    usd: list[F64]
    frac: list[F64]  # sells: share of the position; 1.0 = the rest

    def _add(
        self, ep: Arr, wallet: Arr, asset: Arr, t: F64, buy: bool, usd: F64, frac: F64
    ) -> None:
        self.ep.append(ep)
        self.wallet.append(wallet)
        self.asset.append(asset)
        self.t.append(t)
        self.buy.append(np.full(ep.shape[0], buy))
        self.usd.append(usd)
        self.frac.append(frac)

    def buys(self, ep: Arr, wallet: Arr, asset: Arr, t: F64, usd: F64) -> None:
        self._add(ep, wallet, asset, t, True, usd, np.zeros(ep.shape[0]))

    def sells(self, ep: Arr, wallet: Arr, asset: Arr, t: F64, frac: F64 | None = None) -> None:
        """Sell `frac` of the position, or (frac None) everything still held."""
        whole = np.ones(ep.shape[0]) if frac is None else frac
        self._add(ep, wallet, asset, t, False, np.zeros(ep.shape[0]), whole)


class Population:
    """All wallets and program accounts of one seed."""

    def __init__(self, seed: int, tokens: Tokens) -> None:
        self.seed = seed
        self.tokens = tokens
        rng = np.random.default_rng([seed, 2])
        total = sum(ARCHETYPE_COUNTS.values())
        order = rng.permutation(total)
        kinds = np.repeat(np.arange(len(ARCHETYPES)), list(ARCHETYPE_COUNTS.values()))
        self.archetype_id = np.empty(total, dtype=np.int64)
        self.archetype_id[order] = kinds
        self.keys: list[Pubkey] = on_curve_keys(rng, total)
        self.addresses = [str(k) for k in self.keys]
        self.index = {a: i for i, a in enumerate(self.addresses)}
        self.by_archetype = {
            name: np.flatnonzero(self.archetype_id == i) for i, name in enumerate(ARCHETYPES)
        }
        self.activity = np.zeros(total)
        for name, rate in _ACTIVITY.items():
            members = self.by_archetype[name]
            self.activity[members] = rate * rng.uniform(0.6, 1.4, members.shape[0])
        self._pools(rng)
        self._holders(rng)
        self._exchanges(rng)

    def archetype(self, wallet: int) -> str:
        return ARCHETYPES[int(self.archetype_id[wallet])]

    def _pools(self, rng: np.random.Generator) -> None:
        wsol = bytes(Pubkey.from_string(self.tokens.addresses[SOL]))
        self.pool_addresses: list[str] = []
        self.pool_token: list[int] = []
        self.pool_dex: list[int] = []
        self.token_pools: list[list[int]] = []
        for j, mint in enumerate(self.tokens.mints):
            dexes = rng.choice(len(DEXES), size=int(rng.integers(1, 3)), replace=False)
            mine = []
            for dex in dexes:
                program = Pubkey.from_string(DEXES[int(dex)][1])
                pda, _ = Pubkey.find_program_address([b"pool", bytes(mint), wsol], program)
                mine.append(len(self.pool_addresses))
                self.pool_addresses.append(str(pda))
                self.pool_token.append(j)
                self.pool_dex.append(int(dex))
            self.token_pools.append(mine)
        self.pool_first = np.asarray([p[0] for p in self.token_pools], dtype=np.int64)
        self.pool_count = np.asarray([len(p) for p in self.token_pools], dtype=np.int64)
        pump = Pubkey.from_string(PUMP_PROGRAM)
        self.bonding_curves: dict[int, str] = {
            j: str(Pubkey.find_program_address([b"bonding-curve", bytes(m)], pump)[0])
            for j, m in enumerate(self.tokens.mints)
            if self.tokens.bonding[j]
        }
        self.bonding_share = rng.uniform(0.03, 0.15, N_MEMECOINS)

    def _holders(self, rng: np.random.Generator) -> None:
        holders = self.by_archetype["holder"]
        pw, pt = [], []
        for j in range(N_MEMECOINS):
            pw.append(rng.choice(holders, size=HOLDERS_PER_TOKEN, replace=False))
            pt.append(np.full(HOLDERS_PER_TOKEN, j))
        self.hp_wallet: Arr = np.concatenate(pw)
        self.hp_token: Arr = np.concatenate(pt)
        n = self.hp_wallet.shape[0]
        dec = self.tokens.decimals[self.hp_token]
        usd = np.exp(rng.normal(np.log(1500.0), 1.2, n))
        self.hp_base = raw_amount(usd / np.exp(self.tokens.base_log_price[self.hp_token]), dec)
        self.hp_active: npt.NDArray[np.bool_] = np.asarray(rng.random(n) < 0.5)
        self.hp_period: Arr = np.asarray(rng.integers(3, 15, n), dtype=np.int64) * DAY
        self.hp_phase = (rng.random(n) * self.hp_period).astype(np.int64)
        self.hp_buy = np.maximum(self.hp_base * rng.uniform(0.03, 0.12, n), 1).astype(np.int64)
        self.hp_every: Arr = np.asarray(rng.integers(6, 13, n), dtype=np.int64)
        self.hp_sell = (self.hp_buy * rng.uniform(1.0, 2.5, n)).astype(np.int64)
        self.hp_quote = rng.choice([SOL, USDC_I, USDT_I], size=n, p=[0.65, 0.28, 0.07])
        self.token_holder_pairs = [
            np.arange(j * HOLDERS_PER_TOKEN, (j + 1) * HOLDERS_PER_TOKEN)
            for j in range(N_MEMECOINS)
        ]
        self.wallet_holder_pairs: dict[int, Arr] = {}
        order = np.argsort(self.hp_wallet, kind="stable")
        bounds = np.searchsorted(self.hp_wallet[order], holders)
        ends = np.searchsorted(self.hp_wallet[order], holders, side="right")
        for w, lo, hi in zip(holders.tolist(), bounds.tolist(), ends.tolist(), strict=True):
            self.wallet_holder_pairs[w] = order[lo:hi]

    def _exchanges(self, rng: np.random.Generator) -> None:
        ex = self.by_archetype["exchange"]
        held = rng.random((ex.shape[0], N_MEMECOINS)) < 0.3
        usd = rng.uniform(30_000, 400_000, (ex.shape[0], N_MEMECOINS))
        price = np.exp(self.tokens.base_log_price)[None, :]
        raw = raw_amount(usd / price, self.tokens.decimals[None, :])
        self.exchange_raw = np.where(held, raw, 0)

    # --- holder schedules --------------------------------------------------------------
    def _event_time(self, pairs: Arr, k: Arr) -> Arr:
        jitter = uniform(self.seed, T_HOLD_JITTER, pairs, k) * (self.hp_period[pairs] // 2)
        return EPOCH + self.hp_phase[pairs] + k * self.hp_period[pairs] + jitter.astype(np.int64)

    def holder_raw(self, pairs: Arr, at: int) -> Arr:
        """Balance of holder pairs at `at` (events at or before `at` included)."""
        period = self.hp_period[pairs]
        k: Arr = (at - EPOCH - self.hp_phase[pairs]) // period
        n = np.where(k < 0, 0, k + 1 - (self._event_time(pairs, np.maximum(k, 0)) > at))
        n = np.where(self.hp_active[pairs], n, 0)
        sells = n // self.hp_every[pairs]
        return self.hp_base[pairs] + (n - sells) * self.hp_buy[pairs] - sells * self.hp_sell[pairs]

    def holder_table(self, day: int) -> SwapTable:
        """The holders' scheduled swaps with block time in `day`."""
        pairs = np.flatnonzero(self.hp_active)
        end = (day + 1) * DAY - 1
        k_hi: Arr = (end - EPOCH - self.hp_phase[pairs]) // self.hp_period[pairs]
        chosen_p, chosen_k = [], []
        for k in (k_hi, k_hi - 1):
            ok = k >= 0
            when = self._event_time(pairs, np.maximum(k, 0))
            ok &= (when >= day * DAY) & (when <= end)
            chosen_p.append(pairs[ok])
            chosen_k.append(k[ok])
        p = np.concatenate(chosen_p)
        k = np.concatenate(chosen_k)
        t = self._event_time(p, k).astype(np.float64)
        sell = (k % self.hp_every[p]) == self.hp_every[p] - 1
        raw = np.where(sell, self.hp_sell[p], self.hp_buy[p])
        rng = np.random.default_rng([self.seed, 5, day])
        return build_items(
            self,
            rng,
            table_id=day * 4 + 1,
            wallet=self.hp_wallet[p],
            asset=self.hp_token[p] + FIRST_MEME,
            t=t,
            buy=~sell,
            token_raw=raw,
            quote=self.hp_quote[p],
        )

    # --- trading episodes --------------------------------------------------------------
    def episode_table(self, day: int) -> SwapTable:
        """Every swap of the episodes that start on `day` (they may run into later days)."""
        tok = self.tokens
        rng = np.random.default_rng([self.seed, 3, day])
        d0 = float(day * DAY)
        knots, next_knots = tok.knots(day), tok.knots(day + 1)
        hot = np.flatnonzero(knots.hot)
        acts = _Actions([], [], [], [], [], [], [])
        next_ep = 0

        def new_eps(n: int) -> Arr:
            nonlocal next_ep
            ids = np.arange(next_ep, next_ep + n)
            next_ep += n
            return ids

        def active(name: str) -> Arr:
            members = self.by_archetype[name]
            return members[rng.random(members.shape[0]) < self.activity[members]]

        # smart: buys before the ramp of a token that will pump today, sells most into the
        # peak and the rest early tomorrow, before the dump starts
        smart = active("smart")
        peek = rng.random(smart.shape[0]) < 0.85
        self._noise_episodes(rng, acts, smart[~peek], new_eps, day, hot)
        w = smart[peek]
        n = w.shape[0]
        ep, j = new_eps(n), rng.choice(hot, n)
        ts, te = knots.ramp_start[j], knots.ramp_end[j]
        for extra in (False, True):
            sel = rng.random(n) < 0.5 if extra else np.ones(n, dtype=bool)
            lo = np.maximum(60.0, ts[sel] - 5 * 3600)
            t = d0 + lo + rng.random(sel.sum()) * (ts[sel] - 600 - lo)
            acts.buys(ep[sel], w[sel], j[sel] + FIRST_MEME, t, rng.uniform(1000, 8000, sel.sum()))
        acts.sells(
            ep, w, j + FIRST_MEME, d0 + te + rng.uniform(-2400, 900, n), rng.uniform(0.55, 0.8, n)
        )
        dump_start = next_knots.ramp_start[j]
        acts.sells(ep, w, j + FIRST_MEME, d0 + DAY + 300 + rng.random(n) * (dump_start - 600))

        # momentum: buys after the pump, sells after the dump
        mom = active("momentum")
        chase = rng.random(mom.shape[0]) < 0.8
        self._noise_episodes(rng, acts, mom[~chase], new_eps, day, hot)
        w = mom[chase]
        n = w.shape[0]
        ep, j = new_eps(n), rng.choice(hot, n)
        te = knots.ramp_end[j]
        for extra in (False, True):
            sel = rng.random(n) < 0.4 if extra else np.ones(n, dtype=bool)
            t = d0 + te[sel] + rng.uniform(600, 3 * 3600, sel.sum())
            acts.buys(ep[sel], w[sel], j[sel] + FIRST_MEME, t, rng.uniform(300, 3000, sel.sum()))
        lo = d0 + DAY + next_knots.ramp_end[j]
        sells = np.sort(rng.uniform(lo[:, None], d0 + 3 * DAY, (n, 2)), axis=1)
        two = rng.random(n) < 0.5
        acts.sells(
            ep[two], w[two], j[two] + FIRST_MEME, sells[two, 0], rng.uniform(0.3, 0.7, two.sum())
        )
        acts.sells(ep, w, j + FIRST_MEME, sells[:, 1])

        self._noise_episodes(rng, acts, active("noise"), new_eps, day, hot)
        self._bot_episodes(rng, acts, new_eps, day, hot)
        return self._settle(rng, acts, day)

    def _noise_episodes(
        self,
        rng: np.random.Generator,
        acts: _Actions,
        w: Arr,
        new_eps: Callable[[int], Arr],
        day: int,
        hot: Arr,
    ) -> None:
        n = w.shape[0]
        if n == 0:
            return
        ep = new_eps(n)
        on_hot = rng.random(n) < 0.4
        j = np.where(on_hot, rng.choice(hot, n), rng.integers(0, N_MEMECOINS, n))
        # the crowd notices a pump once it has started: hot-token buys come after the ramp start
        first = np.where(on_hot, self.tokens.knots(day).ramp_start[j], 0.0)
        buys = np.sort(day * DAY + first[:, None] + rng.random((n, 3)) * (DAY - first)[:, None], 1)
        nb = rng.integers(1, 4, n)
        for k in range(3):
            sel = nb > k
            acts.buys(
                ep[sel], w[sel], j[sel] + FIRST_MEME, buys[sel, k], rng.uniform(50, 2000, sel.sum())
            )
        last = buys[np.arange(n), nb - 1] + 600
        hold: F64 = np.asarray(rng.uniform(1800, 3 * DAY, n))
        sells = np.sort(last[:, None] + rng.random((n, 2)) * hold[:, None], axis=1)
        two: npt.NDArray[np.bool_] = np.asarray(rng.random(n) < 0.4)
        acts.sells(
            ep[two], w[two], j[two] + FIRST_MEME, sells[two, 0], rng.uniform(0.3, 0.7, two.sum())
        )
        acts.sells(ep, w, j + FIRST_MEME, sells[:, 1])

    def _bot_episodes(
        self,
        rng: np.random.Generator,
        acts: _Actions,
        new_eps: Callable[[int], Arr],
        day: int,
        hot: Arr,
    ) -> None:
        d0 = float(day * DAY)
        for bot in self.by_archetype["bot"].tolist():
            targets = rng.choice(hot, 2, replace=False)
            n = int(rng.integers(60, 110))
            ep = new_eps(n)
            w = np.full(n, bot)
            j = rng.choice(targets, n)
            t = d0 + rng.uniform(0, 23 * 3600, n)
            acts.buys(ep, w, j + FIRST_MEME, t, rng.uniform(20, 150, n))
            acts.sells(ep, w, j + FIRST_MEME, t + rng.uniform(20, 240, n))
            if rng.random() >= 0.35:
                continue
            # an overnight inventory puts the bot among the evening's top holders
            ep1, j1 = new_eps(1), targets[:1]
            acts.buys(
                ep1,
                w[:1],
                j1 + FIRST_MEME,
                d0 + 23 * 3600 + rng.uniform(0, 3000, 1),
                rng.uniform(2000, 6000, 1),
            )
            acts.sells(ep1, w[:1], j1 + FIRST_MEME, d0 + DAY + rng.uniform(300, 3600, 1))

    def _settle(self, rng: np.random.Generator, acts: _Actions, day: int) -> SwapTable:
        """Token amounts: buys from USD at the market price; sells split the position exactly."""
        ep = np.concatenate(acts.ep)
        wallet = np.concatenate(acts.wallet)
        asset = np.concatenate(acts.asset)
        t = np.floor(np.concatenate(acts.t))
        buy = np.concatenate(acts.buy)
        usd = np.concatenate(acts.usd)
        frac = np.concatenate(acts.frac)
        dec = self.tokens.asset_decimals[asset]
        price = self.tokens.price(asset, t)
        raw = np.zeros(ep.shape[0], dtype=np.int64)
        raw[buy] = raw_amount(usd[buy] / price[buy], dec[buy])
        position = np.zeros(int(ep.max()) + 1, dtype=np.int64)
        np.add.at(position, ep[buy], raw[buy])
        partial = ~buy & (frac < 1.0)
        raw[partial] = np.floor(position[ep[partial]] * frac[partial]).astype(np.int64)
        taken = np.zeros_like(position)
        np.add.at(taken, ep[partial], raw[partial])
        rest = ~buy & (frac >= 1.0)
        raw[rest] = position[ep[rest]] - taken[ep[rest]]
        quote = rng.choice([SOL, USDC_I, USDT_I], size=ep.shape[0], p=[0.65, 0.28, 0.07])
        return build_items(self, rng, day * 4, wallet, asset, t, buy, raw, quote, add_share=0.01)


def build_items(
    pop: Population,
    rng: np.random.Generator,
    table_id: int,
    wallet: Arr,
    asset: Arr,
    t: F64,
    buy: npt.NDArray[np.bool_],
    token_raw: Arr,
    quote: Arr,
    add_share: float = 0.0,
) -> SwapTable:
    """Turn position changes into API items: routes, quotes, leg prices and their flaws."""
    tok = pop.tokens
    n = wallet.shape[0]
    t = np.floor(t)
    dec = tok.asset_decimals
    p_x = tok.price(asset, t)
    usd = token_raw / 10.0 ** dec[asset] * p_x
    roll = rng.random(n)
    hop_quote = buy & (roll < 0.04)
    hop_meme = buy & (roll >= 0.04) & (roll < 0.07)
    split = ~buy & (roll < 0.08)
    inter = np.where(
        hop_meme,
        FIRST_MEME + (asset - FIRST_MEME + rng.integers(1, N_MEMECOINS, n)) % N_MEMECOINS,
        np.where(quote == SOL, USDC_I, SOL),
    )
    q_raw = np.maximum(np.floor(usd / tok.price(quote, t) * 10.0 ** dec[quote]), 1).astype(np.int64)
    i_raw = np.maximum(np.floor(usd / tok.price(inter, t) * 10.0 ** dec[inter]), 1).astype(np.int64)
    share = rng.uniform(0.3, 0.7, n)
    part1 = np.maximum(np.floor(token_raw * share), 1).astype(np.int64)
    q1 = np.floor(q_raw * share).astype(np.int64)
    uid = table_id * (1 << 24) + np.arange(n)
    ins0: Arr = np.asarray(rng.integers(1, 6, n), dtype=np.int64)
    hop = hop_quote | hop_meme
    two = hop | split
    # first item of every action
    first_sold = np.where(buy, quote, asset)
    first_bought = np.where(buy, np.where(hop, inter, asset), quote)
    first_sold_raw = np.where(buy, q_raw, np.where(split, part1, token_raw))
    first_bought_raw = np.where(buy, np.where(hop, i_raw, token_raw), np.where(split, q1, q_raw))
    # second item of hops (intermediate -> token) and splits (rest of the sale)
    idx2 = np.flatnonzero(two)
    sec_sold = np.where(hop, inter, asset)[idx2]
    sec_bought = np.where(hop, asset, quote)[idx2]
    sec_sold_raw = np.where(hop, i_raw, token_raw - part1)[idx2]
    sec_bought_raw = np.where(hop, token_raw, q_raw - q1)[idx2]

    w = np.concatenate([wallet, wallet[idx2]])
    tt = np.concatenate([t, t[idx2]]).astype(np.int64)
    tx = np.concatenate([uid, uid[idx2]])
    ins = np.concatenate([ins0, ins0[idx2] + 1])
    sold = np.concatenate([first_sold, sec_sold])
    bought = np.concatenate([first_bought, sec_bought])
    sold_raw = np.concatenate([first_sold_raw, sec_sold_raw])
    bought_raw = np.concatenate([first_bought_raw, sec_bought_raw])
    main_asset = np.concatenate([asset, asset[idx2]])
    m = w.shape[0]
    inner = np.where(rng.random(m) < 0.02, -1, rng.integers(0, 4, m))
    kind = np.where(rng.random(m) < add_share, KIND_ADD, 0)
    add = kind == KIND_ADD
    # a liquidity add deposits SOL and USDC: no memecoin balance moves
    sold = np.where(add, SOL, sold)
    bought = np.where(add, USDC_I, bought)
    sold_raw = np.where(add, np.maximum(sold_raw // 7, 1), sold_raw)
    bought_raw = np.where(add, np.maximum(bought_raw // 7, 1), bought_raw)

    def leg_prices(a: Arr) -> tuple[F64, F64]:
        px = tok.price(a, tt) * np.exp(rng.normal(0.0, 0.004, m))
        return px, px * np.exp(rng.normal(0.0, 0.002, m))

    sold_px, sold_npx = leg_prices(sold)
    bought_px, bought_npx = leg_prices(bought)
    flaw = rng.random(m)
    unpriced = (flaw < 0.02) & ~add
    far = (flaw >= 0.02) & (flaw < 0.025) & ~add
    factor = np.where(rng.random(m) < 0.5, 1.0, -1.0) * rng.uniform(np.log(5), np.log(20), m)
    on_sold = sold == main_asset
    for mask, px, npx in (
        (on_sold, sold_px, sold_npx),
        (~on_sold, bought_px, bought_npx),
    ):
        px[mask & unpriced] = np.nan
        npx[mask & unpriced] = np.nan
        px[mask & far] *= np.exp(factor[mask & far])
        npx[mask & far] *= np.exp(factor[mask & far])
    native = ((sold == SOL) | (bought == SOL)) & (rng.random(m) < 0.12)
    # the pool traded through: a hop's first leg uses the intermediate token's pool, the two
    # halves of a split route use the token's two pools when it has two
    pool_token = np.concatenate([np.where(hop_meme, inter, asset), asset[idx2]]) - FIRST_MEME
    pick0: Arr = np.asarray(rng.integers(0, 1 << 30, n), dtype=np.int64)
    pick = np.concatenate([pick0, pick0[idx2] + 1])
    pool = pop.pool_first[pool_token] + pick % pop.pool_count[pool_token]
    table = SwapTable(
        wallet=w.astype(np.int64),
        t=tt,
        tx=tx,
        ins=ins.astype(np.int64),
        inner=inner.astype(np.int64),
        sold=sold.astype(np.int64),
        sold_raw=sold_raw,
        bought=bought.astype(np.int64),
        bought_raw=bought_raw,
        sold_px=sold_px,
        sold_npx=sold_npx,
        bought_px=bought_px,
        bought_npx=bought_npx,
        base_is_sold=np.asarray(rng.random(m) < 0.5),
        native=native,
        pool=pool,
        kind=kind.astype(np.int64),
    )
    return table.take(np.lexsort((table.ins, table.tx, table.t, table.wallet)))


def slot_of(t: int) -> int:
    """Slots advance about 2.5 per second."""
    return SLOT_AT_EPOCH + ((t - SLOT_EPOCH) * 5) // 2
