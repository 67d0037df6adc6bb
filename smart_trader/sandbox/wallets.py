"""Wallets, their hidden archetypes, and the swaps they make.

Trading wallets act in "episodes": an episode starts on day d (its parameters come from a
generator seeded with (seed, size, d)), opens a position and closes it completely within
EPISODE_DAYS days. So the balance of (wallet, token) at t is the sum of the swaps before t of the
episodes started on days [day(t) - EPISODE_DAYS, day(t)]. Three things follow closed-form
schedules instead, so their balance at t needs no history: holder wallets (a base balance, buy,
buy, ..., sometimes sell), bag holders' bags (bought at a peak, held for weeks) and stakers'
stake_pool swaps (SOL <-> BNSOL). Nothing depends on which day was generated first.

Skill is a noisy edge, as in real markets: a smart wallet reads a coming pump on only a share of
its trades; on the others it is wrong, and mostly cuts the loss early. Its win rate is well
below 100 %, its edge shows in small losses and large wins, and it keeps it on later days.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from solders.pubkey import Pubkey

from smart_trader.sandbox.hashing import F64, on_curve_keys, uniform
from smart_trader.sandbox.size import DEFAULT_WALLETS, MarketSize
from smart_trader.sandbox.tokens import (
    DAY,
    FIRST_MEME,
    SOL,
    USDC_I,
    USDT_I,
    Lru,
    Tokens,
    raw_amount,
)

EPISODE_DAYS = 4
EPOCH = 1_704_067_200  # 2024-01-01: schedules start here
EPOCH_DAY = EPOCH // DAY
SLOT_EPOCH, SLOT_AT_EPOCH = 1_704_067_200, 240_000_000
HOLDERS_PER_TOKEN = 130  # holder wallets per token, at most
HOLDER_TOKENS = 13  # tokens per holder wallet (130 x 400 tokens / 4000 holders)
BAG_HOLD_DAYS = (30, 60)  # a bag is sold (at a loss) after this many days
STAKER_SHARE = 0.08  # of the wallets that hold SOL (smart, momentum, noise, holder, lucky, ...)

# episodes a wallet starts per day at activity 1 (x U(0.6, 1.4) per wallet); wash: per pair
_ACTIVITY = {
    "smart": 0.3,
    "momentum": 0.25,
    "noise": 0.12,
    "lucky": 0.25,
    "bag_holder": 0.35,
    "sniper": 0.8,
    "wash": 0.5,
}
_STAKING_KINDS = ("smart", "momentum", "noise", "holder", "lucky", "bag_holder")

# (source, program id) of the DEXes whose pools the sandbox routes through; the last entry is
# the liquid-staking pool, reported as a swap source too (external-apis.md §7)
DEXES: list[tuple[str, str]] = [
    ("raydium", "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8"),
    ("orca", "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"),
    ("meteora", "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo"),
    ("pump_amm", "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA"),
    ("stake_pool", "SPoo1Ku8WFXoNDMHPsrGSTSG1Y47rzgn41SLUNakuHy"),
]
TRADE_DEXES = 4
STAKE_DEX = 4
PUMP_PROGRAM = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"

KIND_SWAP, KIND_ADD = 0, 1
T_HOLD_JITTER, T_BAG, T_BAG_TIME, T_STAKE_JITTER = 40, 41, 42, 43

ARCHETYPES = list(DEFAULT_WALLETS)
# archetypes that trade in episodes (the others only follow schedules or hold)
TRADING = frozenset(ARCHETYPES) - {"holder", "exchange"}
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
    """All wallets and program accounts of one seed and size."""

    def __init__(self, seed: int, tokens: Tokens, size: MarketSize) -> None:
        self.seed = seed
        self.tokens = tokens
        self.size = size
        counts = size.wallet_counts()
        n_tok = tokens.n
        rng = np.random.default_rng([seed, 2, n_tok, *counts.values()])
        total = sum(counts.values())
        order = rng.permutation(total)
        kinds = np.repeat(np.arange(len(ARCHETYPES)), [counts[k] for k in ARCHETYPES])
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
            self.activity[members] = rate * size.activity * rng.uniform(0.6, 1.4, members.shape[0])
        # smart: the share of its trades on which it reads a coming pump
        self.skill = np.zeros(total)
        smart = self.by_archetype["smart"]
        self.skill[smart] = rng.uniform(0.2, 0.5, smart.shape[0])
        # lucky: one outsized winner every `lucky_period` days (at most one in a 30-day window)
        self.lucky_period = np.ones(total, dtype=np.int64)
        self.lucky_phase = np.zeros(total, dtype=np.int64)
        lucky = self.by_archetype["lucky"]
        self.lucky_period[lucky] = rng.integers(40, 71, lucky.shape[0])
        self.lucky_phase[lucky] = rng.integers(0, 1 << 20, lucky.shape[0])
        wash = self.by_archetype["wash"]
        self.wash_pairs = wash[: wash.shape[0] - wash.shape[0] % 2].reshape(-1, 2)
        self._pools(rng)
        self._holders(rng)
        self._exchanges(rng)
        self._bags(rng)
        self._stakers(rng)

    def archetype(self, wallet: int) -> str:
        return ARCHETYPES[int(self.archetype_id[wallet])]

    def _pools(self, rng: np.random.Generator) -> None:
        wsol = bytes(Pubkey.from_string(self.tokens.addresses[SOL]))
        self.pool_addresses: list[str] = []
        self.pool_token: list[int] = []
        self.pool_dex: list[int] = []
        self.token_pools: list[list[int]] = []
        for j, mint in enumerate(self.tokens.mints):
            dexes = rng.choice(TRADE_DEXES, size=int(rng.integers(1, 3)), replace=False)
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
        # the stake pool (a program-derived account, like the DEX pools)
        lst = bytes(Pubkey.from_string(self.tokens.addresses[self.tokens.lst]))
        stake_program = Pubkey.from_string(DEXES[STAKE_DEX][1])
        self.stake_pool = len(self.pool_addresses)
        pda, _ = Pubkey.find_program_address([b"stake-pool", lst], stake_program)
        self.pool_addresses.append(str(pda))
        self.pool_token.append(-1)
        self.pool_dex.append(STAKE_DEX)
        pump = Pubkey.from_string(PUMP_PROGRAM)
        self.bonding_curves: dict[int, str] = {
            j: str(Pubkey.find_program_address([b"bonding-curve", bytes(m)], pump)[0])
            for j, m in enumerate(self.tokens.mints)
            if self.tokens.bonding[j]
        }
        self.bonding_share = rng.uniform(0.03, 0.15, self.tokens.n)

    def _holders(self, rng: np.random.Generator) -> None:
        holders = self.by_archetype["holder"]
        # each holder wallet holds about HOLDER_TOKENS tokens, so a token has fewer holder
        # wallets in a market with fewer of them
        per_token = min(
            HOLDERS_PER_TOKEN,
            holders.shape[0],
            round(HOLDER_TOKENS * holders.shape[0] / self.tokens.n),
        )
        n_tok = self.tokens.n
        pw, pt = [], []
        for j in range(n_tok):
            pw.append(rng.choice(holders, size=per_token, replace=False))
            pt.append(np.full(per_token, j))
        self.hp_wallet: Arr = np.concatenate(pw).astype(np.int64)
        self.hp_token: Arr = np.concatenate(pt).astype(np.int64)
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
            np.arange(j * per_token, (j + 1) * per_token) for j in range(n_tok)
        ]

    def _exchanges(self, rng: np.random.Generator) -> None:
        ex = self.by_archetype["exchange"]
        n_tok = self.tokens.n
        held = rng.random((ex.shape[0], n_tok)) < 0.3
        usd = rng.uniform(30_000, 400_000, (ex.shape[0], n_tok))
        price = np.exp(self.tokens.base_log_price)[None, :]
        raw = raw_amount(usd / price, self.tokens.decimals[None, :])
        self.exchange_raw = np.where(held, raw, 0)

    def _bags(self, rng: np.random.Generator) -> None:
        """Bag holders buy a pumped token near its peak every few days and hold it for weeks."""
        w = self.by_archetype["bag_holder"]
        n = int(w.shape[0])
        self.bag_wallet: Arr = w.astype(np.int64)
        period = np.maximum(np.round(rng.uniform(4, 9, n) / self.size.activity), 1)
        self.bag_period: Arr = period.astype(np.int64)
        self.bag_phase: Arr = rng.integers(0, 1 << 20, n).astype(np.int64)
        self.bag_usd: F64 = rng.uniform(800, 5000, n)
        self.bag_hold: Arr = rng.integers(*BAG_HOLD_DAYS, n).astype(np.int64)
        self._bag_cache: Lru[tuple[int, int], tuple[Arr, Arr, Arr, Arr, Arr]] = Lru(16)

    def _stakers(self, rng: np.random.Generator) -> None:
        pool = np.concatenate([self.by_archetype[k] for k in _STAKING_KINDS])
        w = np.sort(pool[rng.random(pool.shape[0]) < STAKER_SHARE])
        n = int(w.shape[0])
        self.stake_wallet: Arr = w.astype(np.int64)
        self.stake_period: Arr = rng.integers(6, 30, n).astype(np.int64) * DAY
        self.stake_phase: Arr = (rng.random(n) * self.stake_period).astype(np.int64)
        self.stake_sol: F64 = np.exp(rng.normal(np.log(40.0), 1.3, n))

    # --- schedules (closed form) -------------------------------------------------------
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

    def bags(self, first_day: int, last_day: int) -> tuple[Arr, Arr, Arr, Arr, Arr]:
        """Bags bought on days [first_day, last_day]: (wallet, asset, raw, bought_t, sold_t)."""
        key = (first_day, last_day)
        return self._bag_cache.get(key, lambda: self._compute_bags(first_day, last_day))

    def _compute_bags(self, first_day: int, last_day: int) -> tuple[Arr, Arr, Arr, Arr, Arr]:
        tok = self.tokens
        span = last_day - first_day + 1
        rows_b: list[Arr] = []
        rows_k: list[Arr] = []
        per_bag = int(span // self.bag_period.min()) + 2 if self.bag_wallet.size else 0
        for k in range(per_bag):
            # the k-th bag from the first day on: day = first_day + offset + k * period
            offset = (self.bag_period - (first_day - EPOCH_DAY + self.bag_phase)) % self.bag_period
            day = first_day + offset + k * self.bag_period
            ok = day <= last_day
            rows_b.append(np.flatnonzero(ok))
            rows_k.append(day[ok])
        if not rows_b:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z, z, z
        b = np.concatenate(rows_b)
        day = np.concatenate(rows_k).astype(np.int64)
        asset = np.zeros(b.shape[0], dtype=np.int64)
        t_buy = np.zeros(b.shape[0], dtype=np.int64)
        for d in np.unique(day).tolist():
            sel = np.flatnonzero(day == d)
            knots = tok.knots(d)
            hot = np.flatnonzero(knots.hot)
            if hot.size == 0:
                hot = np.arange(tok.n)
            u = uniform(self.seed, T_BAG, self.bag_wallet[b[sel]], d)
            j = hot[(u * hot.size).astype(np.int64)]
            asset[sel] = j + FIRST_MEME
            # near the peak, after the pump everybody has seen
            late = uniform(self.seed, T_BAG_TIME, self.bag_wallet[b[sel]], d)
            within = np.minimum(knots.ramp_end[j] + 600 + late * 3 * 3600, DAY - 600)
            t_buy[sel] = d * DAY + within.astype(np.int64)
        price = tok.price(asset, t_buy)
        raw = raw_amount(self.bag_usd[b] / price, tok.asset_decimals[asset])
        t_sell = t_buy + self.bag_hold[b] * DAY
        return self.bag_wallet[b], asset, raw, t_buy, t_sell

    def bag_balances(self, asset: int, at: int) -> dict[int, int]:
        """Raw balance of every bag holder's open bags of `asset` at `at`."""
        day = at // DAY
        w, a, raw, t_buy, t_sell = self.bags(day - BAG_HOLD_DAYS[1], day)
        keep = (a == asset) & (t_buy <= at) & (t_sell > at)
        out: dict[int, int] = {}
        for wallet, r in zip(w[keep].tolist(), raw[keep].tolist(), strict=True):
            out[wallet] = out.get(wallet, 0) + r
        return out

    def schedule_table(self, day: int) -> SwapTable:
        """The scheduled swaps with block time in `day`: holders, bags, stake_pool swaps."""
        rng = np.random.default_rng([self.seed, 5, day])
        tables = [self._holder_items(rng, day), self._bag_items(rng, day)]
        tables.append(self._stake_items(rng, day))
        table = SwapTable.concat(tables)
        return table.take(np.lexsort((table.ins, table.tx, table.t, table.wallet)))

    def _holder_items(self, rng: np.random.Generator, day: int) -> SwapTable:
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

    def _bag_items(self, rng: np.random.Generator, day: int) -> SwapTable:
        w, a, raw, t_buy, t_sell = self.bags(day - BAG_HOLD_DAYS[1], day)
        lo, hi = day * DAY, (day + 1) * DAY
        bought = (t_buy >= lo) & (t_buy < hi)
        sold = (t_sell >= lo) & (t_sell < hi)
        t = np.concatenate([t_buy[bought], t_sell[sold]]).astype(np.float64)
        buy = np.concatenate([np.ones(bought.sum(), bool), np.zeros(sold.sum(), bool)])
        quote = rng.choice([SOL, USDC_I], size=t.shape[0], p=[0.8, 0.2])
        return build_items(
            self,
            rng,
            table_id=day * 4 + 2,
            wallet=np.concatenate([w[bought], w[sold]]),
            asset=np.concatenate([a[bought], a[sold]]),
            t=t,
            buy=buy,
            token_raw=np.concatenate([raw[bought], raw[sold]]),
            quote=quote,
        )

    def _stake_items(self, rng: np.random.Generator, day: int) -> SwapTable:
        """Deposits (SOL -> BNSOL) and withdrawals (BNSOL -> SOL) through the stake pool, which
        BirdEye reports as swaps with source stake_pool."""
        tok = self.tokens
        end = (day + 1) * DAY - 1
        period = self.stake_period
        k_hi: Arr = (end - EPOCH - self.stake_phase) // period
        s_idx, s_k = [], []
        for k in (k_hi, k_hi - 1):
            jitter = uniform(self.seed, T_STAKE_JITTER, self.stake_wallet, k) * (period // 2)
            when = EPOCH + self.stake_phase + k * period + jitter.astype(np.int64)
            ok = (k >= 0) & (when >= day * DAY) & (when <= end)
            s_idx.append(np.flatnonzero(ok))
            s_k.append(k[ok])
        i = np.concatenate(s_idx)
        k = np.concatenate(s_k)
        jitter = uniform(self.seed, T_STAKE_JITTER, self.stake_wallet[i], k) * (period[i] // 2)
        t = EPOCH + self.stake_phase[i] + k * period[i] + jitter.astype(np.int64)
        deposit = k % 2 == 0
        # a withdrawal returns the deposit's BNSOL, worth more SOL by then
        t_dep = np.where(deposit, t, t - period[i])
        lst_raw = np.floor(
            self.stake_sol[i] * tok.price(SOL, t_dep) / tok.price(tok.lst, t_dep) * 1e9
        ).astype(np.int64)
        sol_raw = np.floor(lst_raw * tok.price(tok.lst, t) / tok.price(SOL, t)).astype(np.int64)
        sold = np.where(deposit, SOL, tok.lst)
        bought = np.where(deposit, tok.lst, SOL)
        m = i.shape[0]

        def px(a: Arr) -> tuple[F64, F64]:
            p = tok.price(a, t) * np.exp(rng.normal(0.0, 0.002, m))
            return p, p * np.exp(rng.normal(0.0, 0.002, m))

        sold_px, sold_npx = px(sold)
        bought_px, bought_npx = px(bought)
        return SwapTable(
            wallet=self.stake_wallet[i],
            t=t.astype(np.int64),
            tx=(day * 4 + 3) * (1 << 24) + np.arange(m, dtype=np.int64),
            ins=np.asarray(rng.integers(1, 4, m), dtype=np.int64),
            inner=np.asarray(rng.integers(0, 3, m), dtype=np.int64),
            sold=sold.astype(np.int64),
            sold_raw=np.where(deposit, sol_raw, lst_raw),
            bought=bought.astype(np.int64),
            bought_raw=np.where(deposit, lst_raw, sol_raw),
            sold_px=sold_px,
            sold_npx=sold_npx,
            bought_px=bought_px,
            bought_npx=bought_npx,
            base_is_sold=np.asarray(rng.random(m) < 0.5),
            native=np.asarray(rng.random(m) < 0.5),
            pool=np.full(m, self.stake_pool, dtype=np.int64),
            kind=np.full(m, KIND_SWAP, dtype=np.int64),
        )

    # --- trading episodes --------------------------------------------------------------
    def episode_table(self, day: int) -> SwapTable:
        """Every swap of the episodes that start on `day` (they may run into later days)."""
        rng = np.random.default_rng([self.seed, 3, day])
        knots = self.tokens.knots(day)
        hot = np.flatnonzero(knots.hot)
        if hot.size == 0:
            hot = np.arange(self.tokens.n)
        acts = _Actions([], [], [], [], [], [], [])
        next_ep = 0

        def new_eps(n: int) -> Arr:
            nonlocal next_ep
            ids = np.arange(next_ep, next_ep + n)
            next_ep += n
            return ids

        def active(name: str) -> Arr:
            """Wallets starting an episode today; an activity above 1 starts several."""
            members = self.by_archetype[name]
            rate = self.activity[members]
            count = np.floor(rate) + (rng.random(members.shape[0]) < rate - np.floor(rate))
            return np.repeat(members, count.astype(np.int64))

        ctx = _Day(self, rng, acts, new_eps, day, hot)
        smart = active("smart")
        read = rng.random(smart.shape[0]) < self.skill[smart]
        ctx.pump_ride(smart[read], (1000, 8000))
        ctx.misread(smart[~read])
        ctx.momentum(active("momentum"))
        ctx.noise(active("noise"))
        ctx.bots()
        lucky = self.by_archetype["lucky"]
        big = lucky[(day + self.lucky_phase[lucky]) % self.lucky_period[lucky] == 0]
        ctx.pump_ride(big, (5000, 15000))
        ctx.coin_flip(active("lucky"))
        ctx.take_small_profits(active("bag_holder"))
        ctx.snipe(active("sniper"))
        pairs = self.wash_pairs
        rate = self.activity[pairs[:, 0]] if pairs.size else np.zeros(0)
        ctx.wash(pairs[rng.random(pairs.shape[0]) < rate])
        return self._settle(rng, acts, day)

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
        position = np.zeros(int(ep.max()) + 1 if ep.size else 1, dtype=np.int64)
        np.add.at(position, ep[buy], raw[buy])
        partial = ~buy & (frac < 1.0)
        raw[partial] = np.floor(position[ep[partial]] * frac[partial]).astype(np.int64)
        taken = np.zeros_like(position)
        np.add.at(taken, ep[partial], raw[partial])
        rest = ~buy & (frac >= 1.0)
        raw[rest] = position[ep[rest]] - taken[ep[rest]]
        quote = rng.choice([SOL, USDC_I, USDT_I], size=ep.shape[0], p=[0.65, 0.28, 0.07])
        return build_items(self, rng, day * 4, wallet, asset, t, buy, raw, quote, add_share=0.01)


@dataclass
class _Day:
    """The behaviours of one day's episodes; each appends to `acts`."""

    pop: Population
    rng: np.random.Generator
    acts: _Actions
    new_eps: Callable[[int], Arr]
    day: int
    hot: Arr

    @property
    def d0(self) -> float:
        return float(self.day * DAY)

    def pump_ride(self, w: Arr, usd: tuple[float, float]) -> None:
        """Buys before the ramp of a token that will pump today, sells most into the peak and
        the rest early tomorrow, before the dump starts (a read of the future path)."""
        rng, acts, n = self.rng, self.acts, int(w.shape[0])
        if n == 0:
            return
        knots, next_knots = self.pop.tokens.knots(self.day), self.pop.tokens.knots(self.day + 1)
        ep, j = self.new_eps(n), rng.choice(self.hot, n)
        ts, te = knots.ramp_start[j], knots.ramp_end[j]
        for extra in (False, True):
            sel = rng.random(n) < 0.5 if extra else np.ones(n, dtype=bool)
            lo = np.maximum(60.0, ts[sel] - 5 * 3600)
            t = self.d0 + lo + rng.random(sel.sum()) * (ts[sel] - 600 - lo)
            acts.buys(ep[sel], w[sel], j[sel] + FIRST_MEME, t, rng.uniform(*usd, sel.sum()))
        # the exit into the peak is a guess too: sometimes well before it, sometimes late
        exit_t = self.d0 + te + rng.uniform(-2 * 3600, 1800, n)
        acts.sells(ep, w, j + FIRST_MEME, exit_t, rng.uniform(0.55, 0.8, n))
        dump_start = next_knots.ramp_start[j]
        acts.sells(ep, w, j + FIRST_MEME, self.d0 + DAY + 300 + rng.random(n) * (dump_start - 600))

    def misread(self, w: Arr) -> None:
        """A smart wallet that is wrong: a random token or a pump it is late to; it mostly cuts
        the position within hours, and sometimes holds through the dump."""
        rng, acts, n = self.rng, self.acts, int(w.shape[0])
        if n == 0:
            return
        knots = self.pop.tokens.knots(self.day)
        ep = self.new_eps(n)
        late = rng.random(n) < 0.5
        j = np.where(late, rng.choice(self.hot, n), rng.integers(0, self.pop.tokens.n, n))
        first = np.where(late, knots.ramp_end[j] + 300, 0.0)
        t0 = self.d0 + first + rng.random(n) * (DAY - 1800 - first)
        acts.buys(ep, w, j + FIRST_MEME, t0, rng.uniform(500, 4000, n))
        hold = np.where(
            rng.random(n) < 0.2, rng.uniform(DAY, 2.5 * DAY, n), rng.uniform(0.5, 8, n) * 3600
        )
        # half the time it scales out in two sells, as it does out of a pump
        two = rng.random(n) < 0.5
        acts.sells(
            ep[two],
            w[two],
            j[two] + FIRST_MEME,
            t0[two] + hold[two] * rng.uniform(0.3, 0.7, two.sum()),
            rng.uniform(0.3, 0.7, two.sum()),
        )
        acts.sells(ep, w, j + FIRST_MEME, t0 + hold)

    def momentum(self, w: Arr) -> None:
        """Buys after the pump, sells after the dump (20 % of the time: noise trading)."""
        rng, acts = self.rng, self.acts
        chase = rng.random(w.shape[0]) < 0.8
        self.noise(w[~chase])
        w = w[chase]
        n = int(w.shape[0])
        if n == 0:
            return
        knots, next_knots = self.pop.tokens.knots(self.day), self.pop.tokens.knots(self.day + 1)
        ep, j = self.new_eps(n), rng.choice(self.hot, n)
        te = knots.ramp_end[j]
        for extra in (False, True):
            sel = rng.random(n) < 0.4 if extra else np.ones(n, dtype=bool)
            t = self.d0 + te[sel] + rng.uniform(600, 3 * 3600, sel.sum())
            acts.buys(ep[sel], w[sel], j[sel] + FIRST_MEME, t, rng.uniform(300, 3000, sel.sum()))
        lo = self.d0 + DAY + next_knots.ramp_end[j]
        sells = np.sort(rng.uniform(lo[:, None], self.d0 + 3 * DAY, (n, 2)), axis=1)
        two = rng.random(n) < 0.5
        acts.sells(
            ep[two], w[two], j[two] + FIRST_MEME, sells[two, 0], rng.uniform(0.3, 0.7, two.sum())
        )
        acts.sells(ep, w, j + FIRST_MEME, sells[:, 1])

    def noise(self, w: Arr) -> None:
        rng, acts, n = self.rng, self.acts, int(w.shape[0])
        if n == 0:
            return
        ep = self.new_eps(n)
        on_hot = rng.random(n) < 0.4
        j = np.where(on_hot, rng.choice(self.hot, n), rng.integers(0, self.pop.tokens.n, n))
        # the crowd notices a pump once it has started: hot-token buys come after the ramp start
        first = np.where(on_hot, self.pop.tokens.knots(self.day).ramp_start[j], 0.0)
        buys = np.sort(self.d0 + first[:, None] + rng.random((n, 3)) * (DAY - first)[:, None], 1)
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

    def coin_flip(self, w: Arr) -> None:
        """Random token, random time, random hold: no edge at all."""
        rng, acts, n = self.rng, self.acts, int(w.shape[0])
        if n == 0:
            return
        ep = self.new_eps(n)
        j = rng.integers(0, self.pop.tokens.n, n)
        t0 = self.d0 + rng.random(n) * DAY
        acts.buys(ep, w, j + FIRST_MEME, t0, rng.uniform(50, 600, n))
        acts.sells(ep, w, j + FIRST_MEME, t0 + rng.uniform(1800, 2 * DAY, n))

    def take_small_profits(self, w: Arr) -> None:
        """Sells at the first small gain it sees; a position that never shows one is sold at a
        loss before the episode ends. Its large losers are the bags (held for weeks), in pumped
        tokens; these trades avoid them, so FIFO never sells a bag's lot."""
        rng, acts, n = self.rng, self.acts, int(w.shape[0])
        if n == 0:
            return
        tok = self.pop.tokens
        knots = tok.knots(self.day)
        ep = self.new_eps(n)
        calm = np.flatnonzero(~knots.hot & ~tok.knots(self.day - 1).hot)
        j = rng.choice(calm if calm.size else np.arange(tok.n), n)
        t0 = np.floor(self.d0 + rng.random(n) * DAY)
        looks = 36
        checks = t0[:, None] + np.cumsum(rng.uniform(720, 8000, (n, looks)), axis=1)
        gain = (
            tok.price(j[:, None] + FIRST_MEME, checks).reshape(n, looks)
            / tok.price(j + FIRST_MEME, t0)[:, None]
        )
        target = rng.uniform(0.01, 0.05, n)
        hit = gain >= 1 + target[:, None]
        k = np.where(hit.any(axis=1), hit.argmax(axis=1), looks - 1)
        acts.buys(ep, w, j + FIRST_MEME, t0, rng.uniform(200, 1500, n))
        acts.sells(ep, w, j + FIRST_MEME, checks[np.arange(n), k])

    def snipe(self, w: Arr) -> None:
        """Buys a pump within its first minute and sells most of it minutes later; keeps a
        small bag for the peak or the next morning. Profitable, and too fast to copy."""
        rng, acts, n = self.rng, self.acts, int(w.shape[0])
        if n == 0:
            return
        tok = self.pop.tokens
        knots, next_knots = tok.knots(self.day), tok.knots(self.day + 1)
        ep = self.new_eps(n)
        # a third of the launches it snipes go nowhere: a token that is not about to pump
        dud = rng.random(n) < 0.35
        j = np.where(dud, rng.integers(0, tok.n, n), rng.choice(self.hot, n))
        start = np.where(dud & ~knots.hot[j], rng.uniform(3600, 20 * 3600, n), knots.ramp_start[j])
        t0 = self.d0 + start + rng.uniform(1, 59, n)
        acts.buys(ep, w, j + FIRST_MEME, t0, rng.uniform(300, 3000, n))
        acts.sells(ep, w, j + FIRST_MEME, t0 + rng.uniform(90, 900, n), rng.uniform(0.8, 0.92, n))
        at_peak = (rng.random(n) < 0.5) | dud
        later = np.where(
            at_peak,
            self.d0 + knots.ramp_end[j] + rng.uniform(-3600, 600, n),
            self.d0 + DAY + 300 + rng.random(n) * (next_knots.ramp_start[j] - 600),
        )
        acts.sells(ep, w, j + FIRST_MEME, np.maximum(later, t0 + 960))

    def wash(self, pairs: Arr) -> None:
        """Two wallets of one owner pass a position back and forth through the pool at market
        price, in the same second: volume, and about zero PnL. They trade a token pumped
        today, in the quiet hours around midnight, so the one holding at 24:00 is a top
        holder."""
        rng, acts = self.rng, self.acts
        for a, b in pairs.tolist():
            if rng.random() < 0.5:
                a, b = b, a
            j = int(rng.choice(self.hot))
            trips = int(rng.integers(4, 31))
            start = self.d0 + DAY - rng.uniform(0.5, 2.0) * 3600
            span = rng.uniform(1.0, 3.0) * 3600
            marks = start + np.sort(rng.random(2 * trips)) * span
            t_in, t_out = marks[0::2], marks[1::2]
            usd = rng.uniform(2000, 20000) * rng.uniform(0.9, 1.1, trips)
            asset = np.full(trips, j + FIRST_MEME)
            # a: buy at t_in, sell at t_out; b holds between the trips and sells into a's buys
            ep = self.new_eps(trips)
            acts.buys(ep, np.full(trips, a), asset, t_in, usd)
            acts.sells(ep, np.full(trips, a), asset, t_out)
            b_in = np.concatenate([[t_in[0] - 60.0], t_out])
            b_out = np.concatenate([t_in, [t_out[-1] + 60.0]])
            ep_b = self.new_eps(trips + 1)
            b_usd = np.concatenate([usd[:1], usd])
            acts.buys(ep_b, np.full(trips + 1, b), np.full(trips + 1, j + FIRST_MEME), b_in, b_usd)
            acts.sells(ep_b, np.full(trips + 1, b), np.full(trips + 1, j + FIRST_MEME), b_out)

    def bots(self) -> None:
        rng, acts, d0 = self.rng, self.acts, self.d0
        for bot in self.pop.by_archetype["bot"].tolist():
            targets = rng.choice(self.hot, min(2, self.hot.size), replace=False)
            n = int(rng.integers(60, 110))
            ep = self.new_eps(n)
            w = np.full(n, bot)
            j = rng.choice(targets, n)
            t = d0 + rng.uniform(0, 23 * 3600, n)
            acts.buys(ep, w, j + FIRST_MEME, t, rng.uniform(20, 150, n))
            acts.sells(ep, w, j + FIRST_MEME, t + rng.uniform(20, 240, n))
            if rng.random() >= 0.35:
                continue
            # an overnight inventory puts the bot among the evening's top holders
            ep1, j1 = self.new_eps(1), targets[:1]
            acts.buys(
                ep1,
                w[:1],
                j1 + FIRST_MEME,
                d0 + 23 * 3600 + rng.uniform(0, 3000, 1),
                rng.uniform(2000, 6000, 1),
            )
            acts.sells(ep1, w[:1], j1 + FIRST_MEME, d0 + DAY + rng.uniform(300, 3600, 1))


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
        FIRST_MEME + (asset - FIRST_MEME + rng.integers(1, tok.n, n)) % tok.n,
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
