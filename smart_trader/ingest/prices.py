"""token_prices(D) from /defi/multi_price: one collector over the batched answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from smart_trader import schemas
from smart_trader.ingest import fields
from smart_trader.ingest.ledger import FetchResult, Ledger, Outcome, fetch_result

MULTI_PRICE = "/defi/multi_price"


class PriceCollector:
    """multi_price answers (address → price object or null) → token_prices(D).

    Every entry of `data` is a received record; an unknown token (null) and an address not asked
    for are filtered, so the token is absent; an invalid price is rejected.
    """

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.ledger = Ledger(MULTI_PRICE, day)
        self._prices: dict[str, dict[str, Any]] = {}

    def add_batch(
        self, requested: Iterable[str], data: Mapping[str, object], fetched_at: dt.datetime
    ) -> None:
        asked = set(requested)
        for address, entry in data.items():
            if address in self._prices:
                self.ledger.record(Outcome.DUPLICATE)
            elif entry is None or address not in asked:
                self.ledger.record(Outcome.FILTERED)
            else:
                price = fields.valid_price(entry.get("value")) if isinstance(entry, dict) else None
                if price is None:
                    self.ledger.reject(
                        {address: entry},
                        "invalid_price: value must be finite and > 0",
                        fetched_at,
                    )
                    continue
                self.ledger.record(Outcome.STORED)
                self._prices[address] = {
                    "snapshot_date": self.day,
                    "token_address": address,
                    "price_usd": price,
                    "fetched_at": fetched_at,
                }

    def finish(self) -> FetchResult:
        rows = sorted(self._prices.values(), key=lambda r: r["token_address"])
        return fetch_result(rows, schemas.TOKEN_PRICES, self.ledger)
