"""token_prices from /defi/multi_price answers (smart_trader.ingest.prices, pure)."""

from __future__ import annotations

import json

from smart_trader.ingest.ledger import EndpointCounts
from smart_trader.ingest.prices import MULTI_PRICE, PriceCollector
from smart_trader_tests.records_samples import (
    DAY,
    NOW,
    on_curve,
)


def test_prices_unknown_absent_invalid_rejected() -> None:
    collector = PriceCollector(DAY)
    a, b, c, d = (on_curve() for _ in range(4))
    collector.add_batch(
        [a, b, c],
        {a: {"value": 1.25, "updateUnixTime": 1}, b: None, c: {"value": -1}, d: {"value": 3}},
        NOW,
    )
    result = collector.finish()
    assert result.frame.rows() == [(DAY, a, 1.25, NOW)]
    assert result.counts[MULTI_PRICE] == EndpointCounts(
        received=4, stored=1, rejected=1, filtered=2
    )
    assert json.loads(result.rejected.get_column("raw_record")[0]) == {c: {"value": -1}}
