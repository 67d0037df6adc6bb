"""whale_holders from /defi/v3/token/holder records (smart_trader.ingest.holders, pure)."""

from __future__ import annotations

from solders.pubkey import Pubkey

from smart_trader import schemas
from smart_trader.ingest.holders import HOLDERS, HolderCollector, whale_holders_result
from smart_trader.ingest.ledger import EndpointCounts, Ledger
from smart_trader.settings import USDC, Settings
from smart_trader_tests.records_samples import (
    DAY,
    NOW,
    TOKEN,
    holder,
    on_curve,
)


def off_curve(seed: bytes) -> str:
    return str(
        Pubkey.find_program_address([seed], Pubkey.from_string("11111111111111111111111111111111"))[
            0
        ]
    )


def test_holders_exclusions_merges_duplicates_and_ranks() -> None:
    exchange = on_curve()
    settings = Settings(holders_per_token=3, excluded_wallets={exchange: "exchange"})
    ledger = Ledger(HOLDERS, DAY)
    collector = HolderCollector(TOKEN, 2.0, settings, ledger)
    w1, w2, w3, w4 = sorted(on_curve() for _ in range(4))
    pool = off_curve(b"pool")
    collector.add_page(
        [
            holder(pool, "acc-pool", 1e9),  # program-derived: filtered
            holder(exchange, "acc-ex", 1e8),  # denylist: filtered
            holder(w3, "acc-3a", 300),
            holder(w1, "acc-1", 500),
            holder(w2, "acc-2", "500"),  # tie with w1: wallet ascending
            holder(w3, "acc-3b", 250.0),  # second account of w3: merged (550 total)
        ],
        NOW,
    )
    collector.add_page(
        [
            holder(w3, "acc-3b", 250.0),  # the same token account again: duplicate
            holder(w4, "acc-4", 10),  # fourth owner: beyond holders_per_token
            holder(on_curve(), "acc-x", 0),  # invalid amount
            holder(on_curve(), "acc-y", 5, mint=USDC),  # another token's account
            holder("not-base58!", "acc-z", 5),
            {"owner": on_curve(), "ui_amount": 5},  # no token_account
            holder(on_curve(), "acc-raw", None, amount="2500000"),  # ui_amount from raw amount
        ],
        NOW,
    )
    assert collector.kept_owners == 5
    result = whale_holders_result(DAY, [collector], ledger)
    frame = result.frame
    assert frame.schema == schemas.WHALE_HOLDERS.schema
    assert frame.select("wallet_address", "rank", "ui_amount", "value_usd").rows() == [
        (w3, 1, 550.0, 1100.0),
        (w1, 2, 500.0, 1000.0),
        (w2, 3, 500.0, 1000.0),
    ]
    assert result.counts[HOLDERS] == EndpointCounts(
        received=13, stored=3, rejected=4, filtered=4, merged=1, duplicate=1
    )
    assert sorted(r.split(":")[0] for r in result.rejected.get_column("reason")) == [
        "invalid_address",
        "invalid_amount",
        "mint_mismatch",
        "missing_field",
    ]
