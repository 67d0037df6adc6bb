"""BirdEye-shaped endpoints: paging, filters, casing and the as-of clock (external-apis.md §2).

Trade windows: `after_time <= block_unix_time <= before_time` (both inclusive, never past the
as-of instant); without `after_time` the sandbox serves at most HISTORY_DAYS of history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from solders.pubkey import Pubkey
from starlette.requests import Request

from smart_trader.sandbox.errors import ApiError
from smart_trader.sandbox.market import FRAMES, Market, get_market
from smart_trader.sandbox.tokens import DAY, FIRST_MEME
from smart_trader.sandbox.wallets import KIND_ADD, KIND_SWAP, SwapTable
from smart_trader.settings import NATIVE_SOL, WSOL

if TYPE_CHECKING:
    from smart_trader.sandbox.app import Gate

OFFSET_WALL = 10_000
HISTORY_DAYS = 90
MAX_PRICE_ADDRESSES = 100
LIMITS = {  # endpoint -> (default limit, max limit)
    "/defi/v3/token/list": (100, 100),
    "/defi/v3/token/holder": (100, 100),
    "/trader/txs/seek_by_time": (100, 100),
}
TX_TYPES = ("swap", "add", "remove", "all")
UI_AMOUNT_MODES = ("raw", "scaled", "both")
SOL_ALIAS = {NATIVE_SOL: WSOL}


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _int(params: dict[str, str], name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{name} is invalid format") from None
    if not lo <= value <= hi:
        raise _bad(f"{name} must be between {lo} and {hi}")
    return value


def _address(params: dict[str, str], name: str = "address") -> str:
    raw = params.get(name)
    if not raw:
        raise _bad(f"{name} is required")
    try:
        Pubkey.from_string(raw)
    except ValueError:
        raise _bad(f"{name} is invalid format") from None
    return raw


@dataclass
class Ctx:
    """A validated request: as-of instant, paging, the key for fault decisions."""

    endpoint: str
    params: dict[str, str]
    as_of: int
    gate: Gate
    offset: int = 0
    limit: int = 0
    units: int = 1
    body: dict[str, Any] = field(default_factory=dict)
    request_key: str = ""
    log_injections: bool = True

    @property
    def market(self) -> Market:
        return get_market(self.gate.config.seed, self.gate.config.size)

    @classmethod
    async def build(cls, request: Request, gate: Gate, endpoint: str) -> Ctx:
        params = dict(request.query_params)
        raw_as_of = request.headers.get("x-sandbox-as-of")
        try:
            as_of = int(float(raw_as_of)) if raw_as_of else int(time.time())
        except ValueError:
            raise _bad("x-sandbox-as-of is invalid format") from None
        chain = request.headers.get("x-chain", "solana")
        if chain != "solana":
            raise _bad(f"x-chain {chain!r} is not served by the sandbox (solana only)")
        mode = params.get("ui_amount_mode", "")
        if mode and mode not in UI_AMOUNT_MODES:
            raise _bad("ui_amount_mode is invalid format")
        body: dict[str, Any] = {}
        if request.method == "POST":
            try:
                parsed = json.loads(await request.body() or b"{}")
            except json.JSONDecodeError:
                raise _bad("body is invalid format") from None
            if not isinstance(parsed, dict):
                raise _bad("body is invalid format")
            body = parsed
        ctx = cls(endpoint, params, as_of, gate, body=body)
        if endpoint in LIMITS:
            default, top = LIMITS[endpoint]
            ctx.offset = _int(params, "offset", 0, 0, OFFSET_WALL) or 0
            ctx.limit = _int(params, "limit", default, 1, top) or default
            if ctx.offset + ctx.limit > OFFSET_WALL:
                raise _bad(f"offset + limit must be <= {OFFSET_WALL}")
        if endpoint == "/defi/multi_price":
            ctx.units = len(_price_addresses(ctx))
        key_params = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        ctx.request_key = f"{request.method} {endpoint}?{key_params} {json.dumps(body)}"
        return ctx

    def corrupt(self, record: dict[str, Any], record_id: str) -> dict[str, Any]:
        return self.gate.injector.corrupt(self.endpoint, record, record_id, self.log_injections)

    def with_duplicate(
        self,
        items: list[dict[str, Any]],
        render: Callable[[int], tuple[dict[str, Any], str]],
        total: int,
    ) -> list[dict[str, Any]]:
        """Repeat a row of the neighbouring page (the duplicated-rows fault): the first page
        gets the next page's first row, later pages the previous page's last row."""
        if not self.gate.injector.duplicate_page(self.request_key):
            return items
        end = min(self.offset + self.limit, total)
        index = end if self.offset == 0 else self.offset - 1
        if index >= total:
            return items
        record, record_id = render(index)
        if self.log_injections:
            self.gate.injector.log.add(self.endpoint, "duplicate", record_id)
        return [*items, record] if self.offset == 0 else [record, *items]


def _envelope(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


# --- /defi/v3/token/list ----------------------------------------------------------------
_SORTABLE_PREFIXES = ("volume_", "price_change_", "trade_")
_SORTABLE = {
    "liquidity",
    "market_cap",
    "fdv",
    "recent_listing_time",
    "last_trade_unix_time",
    "holder",
}


async def token_list(request: Request, ctx: Ctx) -> tuple[Any, int]:
    p = ctx.params
    items = ctx.market.token_list(ctx.as_of)
    sort_by = p.get("sort_by") or "liquidity"
    if not (sort_by in _SORTABLE or sort_by.startswith(_SORTABLE_PREFIXES)) or (
        sort_by not in items[0]
    ):
        raise _bad("sort_by is invalid format")
    sort_type = p.get("sort_type") or "desc"
    if sort_type not in ("asc", "desc"):
        raise _bad("sort_type is invalid format")
    kept = items
    for name, raw in p.items():
        if not name.startswith(("min_", "max_")):
            continue
        column = name[4:]
        if column not in items[0] or not isinstance(items[0][column], int | float):
            raise _bad(f"{name} is not a supported filter")
        try:
            bound = float(raw)
        except ValueError:
            raise _bad(f"{name} is invalid format") from None
        if name.startswith("min_"):
            kept = [i for i in kept if i[column] >= bound]
        else:
            kept = [i for i in kept if i[column] <= bound]
    sign = -1.0 if sort_type == "desc" else 1.0
    kept = sorted(kept, key=lambda i: (sign * i[sort_by], i["address"]))

    def render(i: int) -> tuple[dict[str, Any], str]:
        return kept[i], f"{ctx.as_of}:{kept[i]['address']}"

    end = min(ctx.offset + ctx.limit, len(kept))
    out = [ctx.corrupt(*render(i)) for i in range(ctx.offset, end)]
    out = ctx.with_duplicate(out, render, len(kept))
    return _envelope({"items": out, "hasNext": end < len(kept)}), 200


# --- /defi/v3/token/holder --------------------------------------------------------------
async def token_holders(request: Request, ctx: Ctx) -> tuple[Any, int]:
    address = _address(ctx.params)
    market = ctx.market
    asset = market.tokens.index.get(address)
    if asset is None or asset < FIRST_MEME or asset == market.tokens.lst:
        return _envelope({"items": []}), 200
    decimals = int(market.tokens.asset_decimals[asset])
    accounts = market.holders(asset, ctx.as_of)

    def render(i: int) -> tuple[dict[str, Any], str]:
        a = accounts[i]
        item = {
            "amount": str(a.raw),
            "decimals": decimals,
            "mint": address,
            "owner": a.owner,
            "token_account": a.token_account,
            "ui_amount": a.raw / 10**decimals,
            "is_scaled_ui_token": False,
            "multiplier": None,
        }
        return item, f"{ctx.as_of}:{a.token_account}"

    end = min(ctx.offset + ctx.limit, len(accounts))
    out = [ctx.corrupt(*render(i)) for i in range(ctx.offset, end)]
    return _envelope({"items": ctx.with_duplicate(out, render, len(accounts))}), 200


# --- /trader/txs/seek_by_time -----------------------------------------------------------
async def trader_txs(request: Request, ctx: Ctx) -> tuple[Any, int]:
    p = ctx.params
    address = _address(p)
    tx_type = p.get("tx_type") or "swap"
    if tx_type not in TX_TYPES:
        raise _bad("tx_type is invalid format")
    before = _int(p, "before_time", None, 1, 10_000_000_000)
    after = _int(p, "after_time", None, 1, 10_000_000_000)
    if before is not None and after is not None and ctx.gate.config.strict_time_bounds:
        raise ApiError(422, "before_time and after_time cannot be used together")
    hi = min(before if before is not None else ctx.as_of, ctx.as_of)
    lo = max(after or 0, hi - HISTORY_DAYS * DAY)
    rows = ctx.market.wallet_swaps(address, lo, hi)
    if rows is not None and tx_type != "all":
        kind = {"swap": KIND_SWAP, "add": KIND_ADD}.get(tx_type, -1)
        rows = rows.take(np.flatnonzero(rows.kind == kind))
    total = 0 if rows is None else rows.size
    end = min(ctx.offset + ctx.limit, total)
    out: list[dict[str, Any]] = []
    if rows is not None:
        found = rows

        def render(i: int) -> tuple[dict[str, Any], str]:
            return _swap(ctx.market, found, i, address)

        out = [ctx.corrupt(*render(i)) for i in range(ctx.offset, end)]
        out = ctx.with_duplicate(out, render, total)
    return _envelope({"items": out, "hasNext": end < total}), 200


def _swap(market: Market, rows: SwapTable, i: int, owner: str) -> tuple[dict[str, Any], str]:
    item = market.render_swap(rows, i, owner)
    return item, f"{item['tx_hash']}:{item['ins_index']}:{rows.inner[i]}"


# --- /defi/multi_price ------------------------------------------------------------------
def _price_addresses(ctx: Ctx) -> list[str]:
    raw = ctx.params.get("list_address") or ctx.body.get("list_address") or ""
    if not isinstance(raw, str):
        raise _bad("list_address is invalid format")
    addresses = [a.strip() for a in raw.split(",") if a.strip()]
    if not addresses:
        raise _bad("list_address is required")
    if len(addresses) > MAX_PRICE_ADDRESSES:
        raise _bad(f"list_address accepts at most {MAX_PRICE_ADDRESSES} addresses")
    return addresses


def _human(t: int) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def multi_price(request: Request, ctx: Ctx) -> tuple[Any, int]:
    addresses = _price_addresses(ctx)
    market = ctx.market
    include_liq = (ctx.params.get("include_liquidity") or ctx.body.get("include_liquidity")) in (
        "true",
        True,
    )
    assets = [market.tokens.index.get(SOL_ALIAS.get(a, a)) for a in addresses]
    known = [a for a in assets if a is not None]
    now, day_ago = market.prices(known, ctx.as_of) if known else (np.zeros(0), np.zeros(0))
    sol = float(market.tokens.sol_price(ctx.as_of).ravel()[0])
    liquidity = market.tokens.liquidity(ctx.as_of)
    data: dict[str, Any] = {}
    k = 0
    for address, asset in zip(addresses, assets, strict=True):
        if asset is None:
            data[address] = None
            continue
        value = float(now[k])
        entry: dict[str, Any] = {
            "isScaledUiToken": False,
            "value": value,
            "updateUnixTime": ctx.as_of,
            "updateHumanTime": _human(ctx.as_of),
            "priceInNative": value / sol,
            "priceChange24h": (value / float(day_ago[k]) - 1) * 100,
        }
        if include_liq:
            entry["liquidity"] = (
                float(liquidity[asset - FIRST_MEME])
                if FIRST_MEME <= asset < market.tokens.lst
                else 5e8
            )
        k += 1
        data[address] = ctx.corrupt(entry, f"{ctx.as_of}:{address}")
    return _envelope(data), 200


# --- /defi/token_overview ---------------------------------------------------------------
async def token_overview(request: Request, ctx: Ctx) -> tuple[Any, int]:
    address = _address(ctx.params)
    market = ctx.market
    asset = market.tokens.index.get(SOL_ALIAS.get(address, address))
    if asset is None:
        return _envelope(None), 200
    item = market.list_item(asset, ctx.as_of)
    if item is None:
        return _envelope(None), 200
    price = item["price"]
    data: dict[str, Any] = {
        "address": address,
        "decimals": item["decimals"],
        "symbol": item["symbol"],
        "name": item["name"],
        "marketCap": item["market_cap"],
        "fdv": item["fdv"],
        "extensions": {
            "coingeckoId": None,
            "website": None,
            "twitter": None,
            "description": item["extensions"]["description"],
        },
        "logoURI": item["logo_uri"],
        "liquidity": item["liquidity"],
        "lastTradeUnixTime": item["last_trade_unix_time"],
        "lastTradeHumanTime": _human(item["last_trade_unix_time"]),
        "price": price,
    }
    for f in FRAMES:
        change = item[f"price_change_{f}_percent"]
        data[f"history{f}Price"] = price / (1 + change / 100)
        data[f"priceChange{f}Percent"] = change
        trades = item[f"trade_{f}_count"]
        vol = item[f"volume_{f}_usd"]
        vol_change = item[f"volume_{f}_change_percent"]
        data[f"uniqueWallet{f}"] = trades // 4
        data[f"uniqueWalletHistory{f}"] = int(trades / 4 / (1 + vol_change / 100))
        data[f"uniqueWallet{f}ChangePercent"] = vol_change
        data[f"trade{f}"] = trades
        data[f"tradeHistory{f}"] = int(trades / (1 + vol_change / 100))
        data[f"trade{f}ChangePercent"] = vol_change
        data[f"buy{f}"] = trades // 2
        data[f"sell{f}"] = trades - trades // 2
        data[f"v{f}"] = vol / price
        data[f"v{f}USD"] = vol
        data[f"vBuy{f}USD"] = vol / 2
        data[f"vSell{f}USD"] = vol / 2
        data[f"vHistory{f}USD"] = vol / (1 + vol_change / 100)
        data[f"v{f}ChangePercent"] = vol_change
    data.update(
        {
            "totalSupply": item["total_supply"],
            "circulatingSupply": item["circulating_supply"],
            "holder": item["holder"],
            "numberMarkets": market.market_count(asset),
            "isScaledUiToken": False,
            "multiplier": None,
        }
    )
    return _envelope(data), 200
