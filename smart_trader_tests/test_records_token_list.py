"""token_metrics from /defi/v3/token/list records (smart_trader.ingest.token_list, pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from smart_trader import schemas
from smart_trader.ingest.ledger import EndpointCounts
from smart_trader.ingest.token_list import TOKEN_LIST, TokenListCollector, token_list_params
from smart_trader.settings import USDC, Settings, TokenFilters
from smart_trader_tests.records_samples import (
    DAY,
    NOW,
    on_curve,
)


def token_item(address: str, liquidity: float, **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "address": address, "symbol": "TOK", "name": "Token", "decimals": 6, "price": 0.5,
        "liquidity": liquidity, "market_cap": 5e6, "fdv": None, "volume_1h_usd": 2e5,
        "volume_24h_usd": 3e6, "price_change_2h_percent": 1.0,
        "price_change_24h_percent": 40.0, "holder": 1234, "last_trade_unix_time": 1773100000,
    }  # fmt: skip
    item.update(overrides)
    return item


def test_token_list_filters_quotes_rejections_and_top_n() -> None:
    settings = Settings(tokens_per_day=3)
    collector = TokenListCollector(DAY, settings, "sandbox")
    a, b, c, d = (on_curve() for _ in range(4))
    low, high = sorted([a, b])
    page = [
        token_item(USDC, 2.9e6),  # quote asset: never a tracked token
        token_item(low, 2.5e6),
        token_item(high, 2.5e6),  # tie on liquidity: token_address ascending
        token_item(c, 2.0e6, price="0.25"),  # numbers as strings
        token_item(d, 1.5e6),  # fourth by liquidity: cut by tokens_per_day
        token_item(on_curve(), 1.4e6, price=0),  # invalid price: rejected
        token_item(on_curve(), 1.3e6, volume_1h_usd=99_999.0),  # local re-check of filters
        token_item(on_curve(), 1e6, price_change_24h_percent=30.0),  # inclusive bound: kept
        token_item(on_curve(), 1.2e6, symbol=None),  # missing field: rejected
        token_item(low, 2.5e6),  # duplicate across pages
    ]
    collector.add_page(page[:5], NOW)
    collector.add_page(page[5:], NOW)
    result = collector.finish()
    assert result.frame.get_column("token_address").to_list() == [low, high, c]
    assert result.frame.schema == schemas.TOKEN_METRICS.schema
    row = result.frame.row(2, named=True)
    assert row["price_usd"] == 0.25 and row["data_source"] == "sandbox"
    assert row["fdv_usd"] is None and row["holder_count"] == 1234
    assert row["last_trade_at"] == dt.datetime.fromtimestamp(1773100000, dt.UTC)
    assert result.counts[TOKEN_LIST] == EndpointCounts(
        received=10, stored=3, rejected=2, filtered=4, duplicate=1
    )
    reasons = sorted(result.rejected.get_column("reason").to_list())
    assert reasons == ["invalid_price: price must be finite and > 0", "missing_field: symbol"]


def test_token_list_knows_when_top_n_is_settled() -> None:
    collector = TokenListCollector(DAY, Settings(tokens_per_day=2), "birdeye")
    collector.add_page([token_item(on_curve(), 2e6), token_item(on_curve(), 1.8e6)], NOW)
    assert not collector.enough(1.8e6)  # a tie with the 2nd could still come
    assert collector.enough(1.7e6)


def test_token_list_params_are_the_inclusive_server_filters() -> None:
    params = token_list_params(Settings(token_filters=TokenFilters(min_volume_1h_usd=5)))
    assert params == {
        "sort_by": "liquidity",
        "sort_type": "desc",
        "min_liquidity": 1_000_000.0,
        "max_liquidity": 3_000_000.0,
        "min_volume_1h_usd": 5.0,
        "min_price_change_2h_percent": 0.0,
        "min_price_change_24h_percent": 30.0,
        "ui_amount_mode": "raw",
    }
