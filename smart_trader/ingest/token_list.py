"""token_metrics(D) from /defi/v3/token/list: params, parser, collector and its stop rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from smart_trader import schemas
from smart_trader.ingest import fields
from smart_trader.ingest.ledger import FetchResult, Ledger, Outcome, Rejection, fetch_result
from smart_trader.ingest.paging import PagedCollector
from smart_trader.settings import Settings

TOKEN_LIST = "/defi/v3/token/list"


def token_list_params(settings: Settings) -> dict[str, str | int | float]:
    """Server-side filters (inclusive bounds, per the v3 list) and the sort the fetch relies on."""
    f = settings.token_filters
    return {
        "sort_by": "liquidity",
        "sort_type": "desc",
        "min_liquidity": f.min_liquidity_usd,
        "max_liquidity": f.max_liquidity_usd,
        "min_volume_1h_usd": f.min_volume_1h_usd,
        "min_price_change_2h_percent": f.min_price_change_2h_pct,
        "min_price_change_24h_percent": f.min_price_change_24h_pct,
        "ui_amount_mode": "raw",
    }


def parse_token(record: object) -> dict[str, Any]:
    item = fields.as_object(record)
    last_trade = fields.optional_number(item, "last_trade_unix_time")
    last_trade_at = (
        None if last_trade is None else fields.unix_time(last_trade, "last_trade_unix_time")
    )
    price = fields.valid_price(fields.required(item, "price"))
    if price is None:
        raise Rejection("invalid_price: price must be finite and > 0")
    return {
        "token_address": fields.address(item, "address"),
        "symbol": fields.string(item, "symbol"),
        "name": fields.string(item, "name"),
        "decimals": fields.integer(item, "decimals"),
        "price_usd": price,
        "liquidity_usd": fields.number(item, "liquidity"),
        "market_cap_usd": fields.optional_number(item, "market_cap"),
        "fdv_usd": fields.optional_number(item, "fdv"),
        "volume_1h_usd": fields.number(item, "volume_1h_usd"),
        "volume_24h_usd": fields.number(item, "volume_24h_usd"),
        "price_change_2h_pct": fields.number(item, "price_change_2h_percent"),
        "price_change_24h_pct": fields.number(item, "price_change_24h_percent"),
        "holder_count": fields.optional_integer(item, "holder"),
        "last_trade_at": last_trade_at,
    }


def passes_token_filters(token: Mapping[str, Any], settings: Settings) -> bool:
    f = settings.token_filters
    return (
        f.min_liquidity_usd <= token["liquidity_usd"] <= f.max_liquidity_usd
        and token["volume_1h_usd"] >= f.min_volume_1h_usd
        and token["price_change_2h_pct"] >= f.min_price_change_2h_pct
        and token["price_change_24h_pct"] >= f.min_price_change_24h_pct
    )


class TokenListCollector(PagedCollector[str, dict[str, Any]]):
    """Pages of the liquidity-sorted, server-filtered token list → token_metrics(D)."""

    def __init__(self, day: dt.date, settings: Settings, data_source: str) -> None:
        super().__init__(Ledger(TOKEN_LIST, day))
        self.day = day
        self.settings = settings
        self.data_source = data_source
        self._kept: dict[str, dict[str, Any]] = {}

    def _parse(self, record: object) -> dict[str, Any]:
        return parse_token(record)

    def _key(self, row: dict[str, Any]) -> str:
        return str(row["token_address"])

    def _rank(self, row: dict[str, Any]) -> float:
        return float(row["liquidity_usd"])

    def _accept(self, key: str, row: dict[str, Any], fetched_at: dt.datetime) -> None:
        if key in self.settings.quote_asset_set or not passes_token_filters(row, self.settings):
            self.ledger.record(Outcome.FILTERED)
        else:
            self.ledger.record(Outcome.STORED)
            self._kept[key] = {**row, "fetched_at": fetched_at}

    def enough(self, last_liquidity: float | None) -> bool:
        """Top N is settled once N tokens are kept and the list has gone below the N-th one's
        liquidity (a tie with the N-th could still come and win on token_address)."""
        n = self.settings.tokens_per_day
        if len(self._kept) < n or last_liquidity is None:
            return False
        nth = sorted((t["liquidity_usd"] for t in self._kept.values()), reverse=True)[n - 1]
        return last_liquidity < nth

    def finish(self) -> FetchResult:
        self.close()
        ranked = sorted(
            self._kept.values(), key=lambda t: (-t["liquidity_usd"], t["token_address"])
        )
        top = ranked[: self.settings.tokens_per_day]
        self.ledger.reclassify(Outcome.STORED, Outcome.FILTERED, len(ranked) - len(top))
        rows = [{**t, "snapshot_date": self.day, "data_source": self.data_source} for t in top]
        return fetch_result(rows, schemas.TOKEN_METRICS, self.ledger)
