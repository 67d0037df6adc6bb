"""The sandbox market of one seed: token list, holders, trades and prices as at any instant.

Pure Python/numpy; the HTTP layer (app.py) only pages and renders what this returns.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import polars as pl
from solders.pubkey import Pubkey
from solders.signature import Signature

from smart_trader.sandbox.hashing import F64, uniform
from smart_trader.sandbox.size import MarketSize, size_from_env
from smart_trader.sandbox.tokens import DAY, DAYS_CACHED, FIRST_MEME, SOL, Lru, Tokens
from smart_trader.sandbox.wallets import (
    ARCHETYPES,
    DEXES,
    EPISODE_DAYS,
    KIND_SWAP,
    TRADING,
    Population,
    SwapTable,
    slot_of,
)
from smart_trader.settings import INCINERATOR, NATIVE_SOL

FRAMES = ("1h", "2h", "4h", "8h", "24h")
LONG_FRAMES = ("7d", "30d")
_SECONDS = {
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "8h": 28800,
    "24h": DAY,
    "7d": 7 * DAY,
    "30d": 30 * DAY,
}
T_INCINERATOR, T_TRADE_SIZE = 50, 52
_QUOTE_LIQUIDITY = np.array([4.0e8, 6.0e8, 2.0e8])  # wSOL, USDC, USDT


@dataclass(frozen=True)
class HolderAccount:
    owner: str
    token_account: str
    raw: int


class Market:
    def __init__(self, seed: int, size: MarketSize | None = None) -> None:
        self.seed = seed
        self.size = size or MarketSize()
        self.tokens = Tokens(seed, self.size.tokens)
        self.population = Population(seed, self.tokens, self.size)
        self._episodes: Lru[int, SwapTable] = Lru(DAYS_CACHED)
        self._schedule_days: Lru[int, SwapTable] = Lru(DAYS_CACHED)
        self._wallet_rows: Lru[tuple[int, int, int], SwapTable] = Lru(4096)
        self._metrics: Lru[int, list[dict[str, Any]]] = Lru(64)
        self._holders: Lru[tuple[int, int], list[HolderAccount]] = Lru(512)

    # --- tables ------------------------------------------------------------------------
    def episode_table(self, day: int) -> SwapTable:
        return self._episodes.get(day, lambda: self.population.episode_table(day))

    def schedule_table(self, day: int) -> SwapTable:
        return self._schedule_days.get(day, lambda: self.population.schedule_table(day))

    # --- trades --------------------------------------------------------------------------
    def wallet_swaps(self, wallet: str, after: int, before: int) -> SwapTable | None:
        """Items of `wallet` with after <= block time <= before, newest first (None: unknown)."""
        w = self.population.index.get(wallet)
        if w is None or before < after:
            return None
        return self._wallet_rows.get((w, after, before), lambda: self._collect(w, after, before))

    def _collect(self, w: int, after: int, before: int) -> SwapTable:
        kind = self.population.archetype(w)
        lo_day, hi_day = after // DAY, before // DAY
        tables = [self.schedule_table(d) for d in range(lo_day, hi_day + 1)]
        if kind in TRADING:
            tables += [self.episode_table(d) for d in range(lo_day - EPISODE_DAYS, hi_day + 1)]
        parts = [(t, *t.wallet_range(w)) for t in tables]
        parts = [p for p in parts if p[2] > p[1]] or [(self.schedule_table(lo_day), 0, 0)]
        rows = SwapTable.gather(parts)
        keep = np.flatnonzero((rows.t >= after) & (rows.t <= before))
        rows = rows.take(keep)
        return rows.take(np.lexsort((-rows.ins, -rows.tx, -rows.t)))

    def tx_hash(self, tx: int) -> str:
        raw = hashlib.blake2b(f"{self.seed}:tx:{tx}".encode(), digest_size=64).digest()
        return str(Signature(raw))

    def render_swap(self, rows: SwapTable, i: int, owner: str) -> dict[str, Any]:
        """One /trader/txs/seek_by_time item (snake_case)."""
        tok = self.tokens
        kind = int(rows.kind[i])
        sold, bought = int(rows.sold[i]), int(rows.bought[i])
        tx = int(rows.tx[i])
        leg_type = ("transfer", "transferChecked", "split")[tx % 3]
        native = bool(rows.native[i])

        def leg(asset: int, raw: int, px: float, npx: float, spent: bool) -> dict[str, Any]:
            d = int(tok.asset_decimals[asset])
            signed = -raw if spent else raw
            return {
                "symbol": tok.asset_symbols[asset],
                "decimals": d,
                "address": NATIVE_SOL if native and asset == SOL else tok.addresses[asset],
                "amount": raw,
                "type": leg_type,
                "type_swap": "from" if spent else "to",
                "ui_amount": raw / 10**d,
                "price": None if px != px else px,
                "nearest_price": None if npx != npx else npx,
                "change_amount": signed,
                "ui_change_amount": signed / 10**d,
                "is_scaled_ui_token": False,
                "multiplier": None,
            }

        sold_leg = leg(
            sold, int(rows.sold_raw[i]), float(rows.sold_px[i]), float(rows.sold_npx[i]), True
        )
        bought_leg = leg(
            bought,
            int(rows.bought_raw[i]),
            float(rows.bought_px[i]),
            float(rows.bought_npx[i]),
            kind != KIND_SWAP,
        )
        base, quote = (sold_leg, bought_leg) if rows.base_is_sold[i] else (bought_leg, sold_leg)
        pool = int(rows.pool[i])
        pop = self.population
        t = int(rows.t[i])
        base_px = base["price"]
        volume_usd = (
            base["ui_amount"] * base_px
            if base_px is not None
            else quote["ui_amount"] * (quote["price"] or 0.0)
        )
        item: dict[str, Any] = {
            "quote": quote,
            "base": base,
            "base_price": base_px,
            "quote_price": quote["price"],
            "tx_hash": self.tx_hash(tx),
            "source": DEXES[pop.pool_dex[pool]][0],
            "block_unix_time": t,
            "tx_type": "swap" if kind == KIND_SWAP else "add",
            "address": pop.pool_addresses[pool],
            "owner": owner,
            "block_number": slot_of(t),
            "volume_usd": volume_usd,
            "volume": base["ui_amount"],
            "ins_index": int(rows.ins[i]),
            "inner_ins_index": int(rows.inner[i]),
            "signers": [owner],
            "interacted_program_id": DEXES[pop.pool_dex[pool]][1],
        }
        if rows.inner[i] < 0:
            del item["inner_ins_index"]
        return item

    # --- holders -------------------------------------------------------------------------
    def holders(self, asset: int, at: int) -> list[HolderAccount]:
        """Token accounts of a memecoin at `at`, largest first."""
        return self._holders.get((asset, at), lambda: self._compute_holders(asset, at))

    def trader_balances(self, asset: int, at: int) -> dict[int, int]:
        """Raw balance of every trading wallet (episodes) in `asset` at `at` (swaps <= at)."""
        wallets, deltas = [], []
        for d in range(at // DAY - EPISODE_DAYS, at // DAY + 1):
            tbl = self.episode_table(d)
            sel = (tbl.t <= at) & ((tbl.bought == asset) | (tbl.sold == asset))
            idx = np.flatnonzero(sel)
            delta = np.where(tbl.bought[idx] == asset, tbl.bought_raw[idx], 0) - np.where(
                tbl.sold[idx] == asset, tbl.sold_raw[idx], 0
            )
            wallets.append(tbl.wallet[idx])
            deltas.append(delta)
        w = np.concatenate(wallets)
        dl = np.concatenate(deltas)
        uniq, inv = np.unique(w, return_inverse=True)
        total = np.zeros(uniq.shape[0], dtype=np.int64)
        np.add.at(total, inv, dl)
        return dict(zip(uniq.tolist(), total.tolist(), strict=True))

    def _compute_holders(self, asset: int, at: int) -> list[HolderAccount]:
        tok, pop, j = self.tokens, self.population, asset - FIRST_MEME
        dec = int(tok.decimals[j])
        owners: list[str] = []
        raws: list[int] = []
        pairs = pop.token_holder_pairs[j]
        for w, raw in zip(
            pop.hp_wallet[pairs].tolist(), pop.holder_raw(pairs, at).tolist(), strict=True
        ):
            owners.append(pop.addresses[w])
            raws.append(raw)
        balances = self.trader_balances(asset, at)
        for w, raw in pop.bag_balances(asset, at).items():
            balances[w] = balances.get(w, 0) + raw
        for w, raw in balances.items():
            if raw > 0:
                owners.append(pop.addresses[w])
                raws.append(raw)
        price = float(tok.price(asset, at)[0])
        pools = pop.token_pools[j]
        pool_usd = float(tok.liquidity(at)[j]) / 2 / len(pools)
        for p in pools:
            owners.append(pop.pool_addresses[p])
            raws.append(int(pool_usd / price * 10**dec))
        if j in pop.bonding_curves:
            owners.append(pop.bonding_curves[j])
            raws.append(int(pop.bonding_share[j] * tok.supply_ui[j] * 10**dec))
        for k, w in enumerate(pop.by_archetype["exchange"].tolist()):
            if pop.exchange_raw[k, j] > 0:
                owners.append(pop.addresses[w])
                raws.append(int(pop.exchange_raw[k, j]))
        u = float(uniform(self.seed, T_INCINERATOR, j)[0])
        if u < 0.25:
            owners.append(INCINERATOR)
            raws.append(int(u * 0.3 * tok.supply_ui[j] * 10**dec))
        mint = tok.addresses[asset]
        accounts: list[HolderAccount] = []
        for owner, raw in zip(owners, raws, strict=True):
            h = hashlib.blake2b(f"{self.seed}:{owner}:{mint}".encode(), digest_size=33).digest()
            if h[32] < 26 and raw > 10:  # ~10 % of owners keep a second token account
                second = raw * (5 + h[32]) // 100
                alt = hashlib.blake2b(h, digest_size=32).digest()
                accounts.append(HolderAccount(owner, str(Pubkey(alt)), second))
                raw -= second
            accounts.append(HolderAccount(owner, str(Pubkey(h[:32])), raw))
        accounts.sort(key=lambda a: (-a.raw, a.token_account))
        return accounts

    # --- token metrics -------------------------------------------------------------------
    def token_list(self, at: int) -> list[dict[str, Any]]:
        """Every token's /defi/v3/token/list item (snake_case) as at `at`."""
        return self._metrics.get(at, lambda: self._compute_metrics(at))

    def _compute_metrics(self, at: int) -> list[dict[str, Any]]:
        tok = self.tokens
        # memecoins first (index = asset - FIRST_MEME), then the quote assets
        assets = np.concatenate([np.arange(tok.n) + FIRST_MEME, [SOL, SOL + 1, SOL + 2]])
        price = tok.price(assets, at)
        liq = np.concatenate([tok.liquidity(at), _QUOTE_LIQUIDITY])
        size = 150 + 400 * uniform(self.seed, T_TRADE_SIZE, assets)
        cols: dict[str, F64] = {"price": price, "liquidity": liq}
        for f in (*FRAMES, *LONG_FRAMES):
            s = _SECONDS[f]
            vol = np.concatenate([tok.volume(at - s, at), _QUOTE_LIQUIDITY * 2e-5 * s])
            prev = np.concatenate([tok.volume(at - 2 * s, at - s), _QUOTE_LIQUIDITY * 2e-5 * s])
            cols[f"volume_{f}_usd"] = vol
            cols[f"volume_{f}_change_percent"] = (vol / np.maximum(prev, 1e-9) - 1) * 100
            cols[f"price_change_{f}_percent"] = (price / tok.price(assets, at - s) - 1) * 100
            cols[f"trade_{f}_count"] = np.floor(vol / size)
        buy_share = 0.5 + np.clip(cols["price_change_24h_percent"] / 1000, -0.1, 0.1)
        growth = 1 + np.clip(cols["price_change_24h_percent"], 0, 300) / 100
        holder = tok.asset_holders[assets] * growth
        items: list[dict[str, Any]] = []
        for j, asset in enumerate(assets.tolist()):
            name, symbol = tok.asset_names[asset], tok.asset_symbols[asset]
            item: dict[str, Any] = {
                "address": tok.addresses[asset],
                "logo_uri": f"https://sandbox.invalid/logo/{symbol.lower()}.png",
                "name": name,
                "symbol": symbol,
                "decimals": int(tok.asset_decimals[asset]),
                "extensions": {
                    "coingecko_id": None,
                    "website": None,
                    "twitter": None,
                    "telegram": None,
                    "discord": None,
                    "medium": None,
                    "description": f"{name} (sandbox token)",
                    "serum_v3_usdc": None,
                    "serum_v3_usdt": None,
                },
                "market_cap": float(price[j] * tok.asset_circulating[asset]),
                "fdv": float(price[j] * tok.asset_supply[asset]),
                "total_supply": float(tok.asset_supply[asset]),
                "circulating_supply": float(tok.asset_circulating[asset]),
                "liquidity": float(liq[j]),
                "last_trade_unix_time": at - int(j % 17),
                "price": float(price[j]),
                "holder": int(holder[j]),
                "recent_listing_time": int(tok.asset_listed[asset]),
                "is_scaled_ui_token": False,
                "multiplier": None,
            }
            for name, arr in cols.items():
                if name not in ("price", "liquidity"):
                    value = float(arr[j])
                    item[name] = int(value) if name.startswith("trade_") else value
            for f in ("24h", "7d", "30d"):
                trades = item[f"trade_{f}_count"]
                vol = item[f"volume_{f}_usd"]
                b = float(buy_share[j])
                item[f"buy_{f}"] = int(trades * b)
                item[f"sell_{f}"] = trades - int(trades * b)
                item[f"buy_{f}_change_percent"] = item[f"volume_{f}_change_percent"]
                item[f"sell_{f}_change_percent"] = item[f"volume_{f}_change_percent"]
                item[f"volume_buy_{f}_usd"] = vol * b
                item[f"volume_sell_{f}_usd"] = vol * (1 - b)
                item[f"volume_buy_{f}_change_percent"] = item[f"volume_{f}_change_percent"]
                item[f"volume_sell_{f}_change_percent"] = item[f"volume_{f}_change_percent"]
            item["unique_wallet_24h"] = int(item["trade_24h_count"] // 4)
            item["unique_wallet_24h_change_percent"] = item["volume_24h_change_percent"]
            items.append(item)
        return items

    def list_item(self, asset: int, at: int) -> dict[str, Any] | None:
        """The token-list item of a memecoin or quote asset (the LST is not listed)."""
        items = self.token_list(at)
        if asset == self.tokens.lst:
            return None
        return items[asset - FIRST_MEME] if asset >= FIRST_MEME else items[self.tokens.n + asset]

    def market_count(self, asset: int) -> int:
        """Pools trading the asset (quote assets trade against every memecoin)."""
        if asset == self.tokens.lst:
            return 1
        if asset >= FIRST_MEME:
            return len(self.population.token_pools[asset - FIRST_MEME])
        return len(self.population.pool_addresses)

    def prices(self, assets: list[int], at: int) -> tuple[F64, F64]:
        """Prices at `at` and 24 h before."""
        idx = np.asarray(assets, dtype=np.int64)
        return self.tokens.price(idx, at), self.tokens.price(idx, at - DAY)

    # --- truth ---------------------------------------------------------------------------
    def ground_truth(self) -> pl.DataFrame:
        pop = self.population
        wallets = list(pop.addresses)
        kinds = [ARCHETYPES[int(k)] for k in pop.archetype_id]
        wallets += pop.pool_addresses
        kinds += ["pool"] * len(pop.pool_addresses)
        wallets += list(pop.bonding_curves.values())
        kinds += ["bonding_curve"] * len(pop.bonding_curves)
        wallets.append(INCINERATOR)
        kinds.append("burn")
        return pl.DataFrame(
            {"wallet_address": wallets, "archetype": kinds},
            schema={"wallet_address": pl.String, "archetype": pl.String},
        ).sort("wallet_address")


@functools.lru_cache(maxsize=8)
def _market(seed: int, size: MarketSize) -> Market:
    return Market(seed, size)


def get_market(seed: int, size: MarketSize | None = None) -> Market:
    """The market of (seed, size); no size: the one the environment sets (size.size_from_env)."""
    return _market(seed, size or size_from_env())


def ground_truth(seed: int, day: date, size: MarketSize | None = None) -> pl.DataFrame:
    """Archetype of every wallet and program account of the market on `day`.

    The population is fixed per (seed, size), so every day has the same wallets; the day is
    kept in the signature because the truth is per day by contract.
    """
    del day
    return get_market(seed, size).ground_truth()


def day_end(day: date) -> int:
    """Unix seconds of the last second of `day` (the as-of instant of a daily run)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return int(start) + DAY - 1
