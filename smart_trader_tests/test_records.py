"""The record accounting every endpoint shares: the ledger and paged collection
(smart_trader.ingest.ledger, smart_trader.ingest.paging; pure)."""

from __future__ import annotations

import pytest

from smart_trader.ingest.holders import HOLDERS, HolderCollector, whale_holders_result
from smart_trader.ingest.ledger import EndpointCounts, Ledger, Outcome
from smart_trader.ingest.swaps import (
    TRADER_TXS,
)
from smart_trader.settings import Settings
from smart_trader_tests.records_samples import (
    DAY,
    NOW,
    TOKEN,
    holder,
    on_curve,
)


def test_counts_identity_is_asserted() -> None:
    with pytest.raises(AssertionError, match="record accounting broken"):
        EndpointCounts(received=3, stored=1)
    ledger = Ledger(TRADER_TXS, DAY)
    ledger.record(Outcome.FILTERED)
    with pytest.raises(AssertionError):
        ledger.reclassify(Outcome.STORED, Outcome.FILTERED)


def test_rows_repeated_from_a_neighbouring_page_are_duplicates_wherever_paging_stops() -> None:
    """A server that repeats a neighbouring page's row (the next page's first row appended to
    or put before a page, the previous page's last row before the last page): every row is
    counted once, and stopping after page k gives exactly the rows of pages 1..k."""
    owners = [on_curve() for _ in range(250)]
    rows = [holder(owners[i], f"acc{i}", 1000.0 - i) for i in range(250)]
    pages = [
        [*rows[0:100], rows[100]],  # first page + next page's first row
        [rows[200], *rows[100:200]],  # middle page, next page's first row put first
        [rows[199], *rows[200:250]],  # last page, previous page's last row put first
    ]
    settings = Settings(holders_per_token=1000)
    for read in (1, 2, 3):
        ledger = Ledger(HOLDERS, DAY)
        collector = HolderCollector(TOKEN, 1.0, settings, ledger)
        for page in pages[:read]:
            collector.add_page(page, NOW, page_size=100)
        result = whale_holders_result(DAY, [collector], ledger)
        assert result.frame.get_column("wallet_address").to_list() == owners[: 100 * read]
        assert result.counts[HOLDERS] == EndpointCounts(
            received=sum(map(len, pages[:read])), stored=min(100 * read, 250), duplicate=read
        )
