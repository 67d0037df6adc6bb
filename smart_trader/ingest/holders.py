"""whale_holders(D) from /defi/v3/token/holder: parser, collector (one per token), result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from smart_trader import schemas
from smart_trader.ingest import fields
from smart_trader.ingest.ledger import FetchResult, Ledger, Outcome, Rejection, fetch_result
from smart_trader.ingest.paging import PagedCollector
from smart_trader.settings import Settings

HOLDERS = "/defi/v3/token/holder"

Holding = tuple[str, str, float]  # (token_account, owner, ui_amount)


def parse_holder(record: object, token_address: str) -> Holding:
    """(token_account, owner, ui_amount) of one token-account row."""
    item = fields.as_object(record)
    owner = fields.address(item, "owner")
    token_account = fields.address(item, "token_account")
    mint = item.get("mint")
    if mint is not None and mint != token_address:
        raise Rejection("mint_mismatch: mint differs from the queried token")
    if item.get("ui_amount") is not None:
        ui_amount = fields.to_number(item["ui_amount"])
        label = "ui_amount"
    else:
        raw = fields.to_number(item.get("amount"))
        decimals = fields.to_number(item.get("decimals"))
        if raw is None or decimals is None:
            raise Rejection("missing_field: ui_amount (and no amount with decimals)")
        ui_amount = raw / 10**decimals
        label = "amount"
    return token_account, owner, fields.valid_amount(ui_amount, label)


class HolderCollector(PagedCollector[str, Holding]):
    """Pages of one token's holder list → its kept owners, summed over their token accounts.

    Paging may stop once `kept_owners` reaches holders_per_token: the list is sorted by amount.
    """

    def __init__(
        self, token_address: str, price_usd: float, settings: Settings, ledger: Ledger
    ) -> None:
        super().__init__(ledger)
        self.token_address = token_address
        self.price_usd = price_usd
        self.settings = settings
        self._owners: dict[str, float] = {}
        self._fetched_at: dict[str, dt.datetime] = {}

    @property
    def kept_owners(self) -> int:
        return len(self._owners)

    def _parse(self, record: object) -> Holding:
        token_account, owner, ui_amount = parse_holder(record, self.token_address)
        if fields.is_on_curve(owner) is None:
            raise Rejection("invalid_address: owner is not a base58 public key")
        return token_account, owner, ui_amount

    def _key(self, row: Holding) -> str:
        return row[0]

    def _rank(self, row: Holding) -> float:
        return row[2]

    def _accept(self, key: str, row: Holding, fetched_at: dt.datetime) -> None:
        _, owner, ui_amount = row
        if not fields.is_on_curve(owner) or owner in self.settings.excluded_wallets:
            self.ledger.record(Outcome.FILTERED)
        elif owner in self._owners:
            self.ledger.record(Outcome.MERGED)
            self._owners[owner] += ui_amount
        else:
            self.ledger.record(Outcome.STORED)
            self._owners[owner] = ui_amount
            self._fetched_at[owner] = fetched_at

    def rows(self, day: dt.date) -> list[dict[str, Any]]:
        self.close()
        ranked = sorted(self._owners.items(), key=lambda kv: (-kv[1], kv[0]))
        top = ranked[: self.settings.holders_per_token]
        self.ledger.reclassify(Outcome.STORED, Outcome.FILTERED, len(ranked) - len(top))
        return [
            {
                "snapshot_date": day,
                "token_address": self.token_address,
                "wallet_address": owner,
                "rank": rank,
                "ui_amount": amount,
                "value_usd": amount * self.price_usd,
                "fetched_at": self._fetched_at[owner],
            }
            for rank, (owner, amount) in enumerate(top, start=1)
        ]


def whale_holders_result(
    day: dt.date, collectors: Iterable[HolderCollector], ledger: Ledger
) -> FetchResult:
    rows = [row for collector in collectors for row in collector.rows(day)]
    return fetch_result(rows, schemas.WHALE_HOLDERS, ledger)
