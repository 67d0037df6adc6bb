"""BirdEye client: the bronze fetches over the live API, a served sandbox or the in-process one.

Which of them is the client's connection (resources.api_client), decided when the definitions
load. The sandbox can answer any day: the client sends `x-sandbox-as-of` = the last second of
partition day D. The live API only knows "now", so a live list/holders/prices fetch for a day
older than yesterday fails instead of storing today's answer under an old date.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import polars as pl
from pydantic import Field

from smart_trader.ingest.fields import to_number
from smart_trader.ingest.holders import HOLDERS, HolderCollector, whale_holders_result
from smart_trader.ingest.ledger import FetchResult, Ledger
from smart_trader.ingest.prices import MULTI_PRICE, PriceCollector
from smart_trader.ingest.swaps import TRADER_TXS, SwapCollector, transaction_history_result
from smart_trader.ingest.token_list import TOKEN_LIST, TokenListCollector, token_list_params
from smart_trader.resources.api_client import ApiClient
from smart_trader.resources.api_errors import (
    COMPUTE_UNITS_MESSAGE,
    BodyInvalid,
    BodyRefused,
    RequestRejected,
)
from smart_trader.resources.http import ApiSession, gather_all, run_sync
from smart_trader.resources.wire_stats import LogLike, Progress
from smart_trader.settings import Settings

AS_OF_HEADER = "x-sandbox-as-of"
# Live plan default when none is configured: Lite/Starter allow 15 requests/s per account.
LIVE_DEFAULT_RPS = 15.0
PAGE_LIMIT = 100  # the maximum of the holder, v3 list and trader-txs endpoints
OFFSET_WALL = 10_000  # offset + limit <= 10000 on every paged endpoint
PRICE_BATCH = 100

TOKENS_PROGRESS_EVERY = 10

U = TypeVar("U")


class LiveHistoryUnavailable(RuntimeError):
    """The live API only answers "now"; an old partition day cannot be fetched from it."""


def day_end(day: dt.date) -> dt.datetime:
    """D+1 00:00 UTC, the exclusive end of partition day D."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def as_of_seconds(day: dt.date) -> int:
    """The last second of day D: what the sandbox's list/holders/prices answer as at."""
    return int(day_end(day).timestamp()) - 1


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _envelope(body: Any) -> Any:
    """`data` of a BirdEye `{"success": true, "data": ...}` answer."""
    if not isinstance(body, dict) or "success" not in body:
        raise BodyInvalid("not a BirdEye envelope (no 'success')")
    if body["success"] is not True:
        message = str(body.get("message", ""))
        if COMPUTE_UNITS_MESSAGE in message:
            raise BodyRefused(message)
        raise BodyInvalid(f"success is {body['success']!r}: {message[:200]}")
    if "data" not in body:
        raise BodyInvalid("no 'data' in the envelope")
    return body["data"]


def _items_page(body: Any) -> tuple[list[Any], bool | None]:
    """(items, has_next) of a paged answer; has_next None when the endpoint gives none."""
    data = _envelope(body)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise BodyInvalid("data.items is not a list")
    flag = data.get("hasNext", data.get("has_next"))
    if flag is not None and not isinstance(flag, bool):
        raise BodyInvalid("hasNext is not a boolean")
    return data["items"], flag


def _price_map(body: Any) -> dict[str, Any]:
    data = _envelope(body)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BodyInvalid("data is not an address → price map")
    return data


class BirdEyeClient(ApiClient):
    """BirdEye over httpx: shared token bucket, retries with backoff, full pagination."""

    service = "BirdEye"
    key_variable = "BIRDEYE_API_KEY"
    live_base_url = "https://public-api.birdeye.so"
    resource_key = "birdeye"

    requests_per_second: float | None = Field(
        default=None,
        description="the plan's per-account limit; default 15 live, unlimited in the sandbox",
    )
    max_concurrency: int = Field(default=16, ge=1)
    progress_every: int = Field(default=200, ge=1, description="log progress every N units")

    @property
    def data_source(self) -> str:
        """bronze's data_source: what the connection's mode stores."""
        return "sandbox" if self.is_sandbox else "birdeye"

    def _session(self, log: LogLike | None) -> ApiSession:
        rps = self.requests_per_second
        if rps is None and self.is_live:
            rps = LIVE_DEFAULT_RPS
        return self._new_session(
            log,
            headers={"X-API-KEY": self.key, "x-chain": "solana", "accept": "application/json"},
            query={},
            requests_per_second=rps,
            max_concurrency=self.max_concurrency,
        )

    def _clock_headers(self, day: dt.date, endpoint: str) -> dict[str, str]:
        """As-of header for the sandbox; refuses a day the live API can no longer answer for
        (and, first, a key and connection that disagree)."""
        self.check_mode()
        if self.is_sandbox:
            return {AS_OF_HEADER: str(as_of_seconds(day))}
        oldest = _now().date() - dt.timedelta(days=1)
        if day < oldest:
            raise LiveHistoryUnavailable(
                f"BirdEye {endpoint} for {day}: history not available from a live API (it "
                f"answers only for now; days from {oldest} on can be fetched)"
            )
        return {}

    async def _get(
        self,
        session: ApiSession,
        endpoint: str,
        params: Mapping[str, str | int | float],
        headers: Mapping[str, str],
        parse: Any,
        pages_done: int = 0,
        subject: str | None = None,
    ) -> Any:
        """GET one page; the next page of a long listing goes before a new listing's first."""
        return await session.request(
            "GET",
            endpoint,
            parse,
            params=params,
            headers=headers,
            priority=-pages_done,
            subject=subject,
        )

    # -- token_metrics ---------------------------------------------------------------------------

    def fetch_token_metrics(
        self, day: dt.date, settings: Settings, log: LogLike | None = None
    ) -> FetchResult:
        """token_metrics(D): the filtered token list, top tokens_per_day by liquidity."""
        headers = self._clock_headers(day, TOKEN_LIST)
        return run_sync(lambda: self._token_metrics(day, settings, headers, log))

    async def _token_metrics(
        self, day: dt.date, settings: Settings, headers: dict[str, str], log: LogLike | None
    ) -> FetchResult:
        collector = TokenListCollector(day, settings, self.data_source)
        base = token_list_params(settings)
        async with self._session(log) as session:
            progress = Progress(log, "token list", 1, 1, session.stats)
            offset = 0
            while offset + PAGE_LIMIT <= OFFSET_WALL:
                params = {**base, "offset": offset, "limit": PAGE_LIMIT}
                items, has_next = await self._get(session, TOKEN_LIST, params, headers, _items_page)
                collector.add_page(items, _now(), PAGE_LIMIT)
                progress.page(len(items))
                last = items[-1] if items else None
                last_liquidity = (
                    to_number(last.get("liquidity")) if isinstance(last, dict) else None
                )
                ended = (
                    not items
                    or (has_next is False)
                    or (has_next is None and len(items) < PAGE_LIMIT)
                )
                if ended or collector.enough(last_liquidity):
                    break
                offset += PAGE_LIMIT
            progress.unit_done()
            result = collector.finish()
            return _with_stats(result, session)

    # -- whale_holders ---------------------------------------------------------------------------

    def fetch_whale_holders(
        self,
        day: dt.date,
        tokens: pl.DataFrame,
        settings: Settings,
        log: LogLike | None = None,
    ) -> FetchResult:
        """whale_holders(D) of the given tokens (token_address, price_usd)."""
        headers = self._clock_headers(day, HOLDERS)
        pairs = list(
            zip(
                tokens.get_column("token_address").to_list(),
                tokens.get_column("price_usd").to_list(),
                strict=True,
            )
        )
        return run_sync(lambda: self._whale_holders(day, pairs, settings, headers, log))

    async def _whale_holders(
        self,
        day: dt.date,
        tokens: list[tuple[str, float]],
        settings: Settings,
        headers: dict[str, str],
        log: LogLike | None,
    ) -> FetchResult:
        ledger = Ledger(HOLDERS, day)
        collectors = [HolderCollector(t, p, settings, ledger) for t, p in tokens]
        async with self._session(log) as session:
            progress = Progress(
                log, "holders", len(collectors), TOKENS_PROGRESS_EVERY, session.stats
            )

            async def one_token(collector: HolderCollector) -> None:
                for page in range(settings.max_holder_pages):
                    offset = page * PAGE_LIMIT
                    if offset + PAGE_LIMIT > OFFSET_WALL:
                        break
                    params: dict[str, str | int | float] = {
                        "address": collector.token_address,
                        "offset": offset,
                        "limit": PAGE_LIMIT,
                        "ui_amount_mode": "raw",
                    }
                    items, _ = await self._get(
                        session,
                        HOLDERS,
                        params,
                        headers,
                        _items_page,
                        page,
                        f"the holders of token {collector.token_address}",
                    )
                    collector.add_page(items, _now(), PAGE_LIMIT)
                    progress.page(len(items))
                    if collector.kept_owners >= settings.holders_per_token:
                        break
                    if len(items) < PAGE_LIMIT:
                        break
                progress.unit_done()

            await gather_all(self._bounded(one_token, collectors))
            return _with_stats(whale_holders_result(day, collectors, ledger), session)

    def _bounded(
        self, work: Callable[[U], Awaitable[None]], units: Sequence[U]
    ) -> list[Awaitable[None]]:
        """One coroutine per unit, at most max_concurrency units in flight."""
        gate = asyncio.Semaphore(self.max_concurrency)

        async def run(unit: U) -> None:
            async with gate:
                await work(unit)

        return [run(u) for u in units]

    # -- transaction_history ---------------------------------------------------------------------

    def fetch_swaps(
        self,
        day: dt.date,
        ranges: pl.DataFrame,
        max_swaps_per_fetch: int,
        log: LogLike | None = None,
    ) -> FetchResult:
        """transaction_history(D): each wallet's swaps with block_time in [start, D+1 00:00)."""
        wallets = list(
            zip(
                ranges.get_column("wallet_address").to_list(),
                ranges.get_column("start").to_list(),
                strict=True,
            )
        )
        return run_sync(lambda: self._swaps(day, wallets, max_swaps_per_fetch, log))

    async def _swaps(
        self,
        day: dt.date,
        wallets: list[tuple[str, dt.datetime]],
        max_swaps: int,
        log: LogLike | None,
    ) -> FetchResult:
        end = day_end(day)
        ledger = Ledger(TRADER_TXS, day)
        collectors = [SwapCollector(w, _utc(start), end, max_swaps, ledger) for w, start in wallets]
        async with self._session(log) as session:
            progress = Progress(
                log, "wallet swaps", len(collectors), self.progress_every, session.stats
            )

            mode = _TradeWindow()

            async def one_wallet(collector: SwapCollector) -> None:
                await self._wallet_pages(session, collector, mode, progress)
                progress.unit_done()

            await gather_all(self._bounded(one_wallet, collectors))
            result = transaction_history_result(day, collectors, ledger)
            return _with_stats(result, session)

    async def _wallet_pages(
        self, session: ApiSession, collector: SwapCollector, mode: _TradeWindow, progress: Progress
    ) -> None:
        """Newest first; past the offset wall the window's upper bound moves down instead."""
        # after_time one second early: whether the server's bound is inclusive or exclusive,
        # nothing at `start` is missed; the collector filters to [start, end).
        after = int(collector.start.timestamp()) - 1
        before = int(collector.end.timestamp())
        subject = (
            f"the swaps of wallet {collector.wallet} in [{collector.start.isoformat()}, "
            f"{collector.end.isoformat()})"
        )
        offset = pages = 0
        oldest: float | None = None
        while True:
            if offset + PAGE_LIMIT > OFFSET_WALL:
                assert oldest is not None, "a full page always carries block times"
                # +1: rows in the oldest second seen are asked for again (counted duplicate),
                # whether before_time is inclusive or exclusive, so none is skipped.
                moved = int(oldest) + 1
                if moved >= before:
                    raise RuntimeError(
                        f"BirdEye {TRADER_TXS}: more than {OFFSET_WALL} swaps of one "
                        f"wallet in one second; cannot page past the offset limit"
                    )
                before, offset = moved, 0
            params: dict[str, str | int | float] = {
                "address": collector.wallet,
                "tx_type": "swap",
                "before_time": before,
                "offset": offset,
                "limit": PAGE_LIMIT,
                "ui_amount_mode": "raw",
            }
            if mode.send_after_time:
                params["after_time"] = after
            try:
                items, has_next = await self._get(
                    session, TRADER_TXS, params, {}, _items_page, pages, subject
                )
            except RequestRejected as exc:
                # The old seek_by_time rule: both bounds at once → 422. Page down from
                # before_time alone and stop once past the start instead.
                if exc.status != 422 or "after_time" not in params:
                    raise
                mode.send_after_time = False
                continue
            collector.add_page(items, _now(), PAGE_LIMIT)
            progress.page(len(items))
            pages += 1
            times = [t for t in map(_block_time, items) if t is not None]
            if times:
                oldest = min(times) if oldest is None else min(oldest, *times)
            if not items or has_next is False or (has_next is None and len(items) < PAGE_LIMIT):
                return
            if collector.over_limit:
                return
            if oldest is not None and oldest < collector.start.timestamp():
                return
            offset += PAGE_LIMIT

    # -- token_prices ----------------------------------------------------------------------------

    def fetch_prices(
        self, day: dt.date, token_addresses: list[str], log: LogLike | None = None
    ) -> FetchResult:
        """token_prices(D): multi_price at the end of D (sandbox) or now (live)."""
        headers = self._clock_headers(day, MULTI_PRICE)
        addresses = sorted(set(token_addresses))
        return run_sync(lambda: self._prices(day, addresses, headers, log))

    async def _prices(
        self, day: dt.date, addresses: list[str], headers: dict[str, str], log: LogLike | None
    ) -> FetchResult:
        collector = PriceCollector(day)
        batches = [addresses[i : i + PRICE_BATCH] for i in range(0, len(addresses), PRICE_BATCH)]
        async with self._session(log) as session:
            progress = Progress(log, "prices", len(batches), 10, session.stats)

            async def one_batch(batch: list[str]) -> None:
                params = {"list_address": ",".join(batch), "ui_amount_mode": "raw"}
                subject = f"the prices of {len(batch)} tokens, {batch[0]} first"
                data = await self._get(
                    session, MULTI_PRICE, params, headers, _price_map, subject=subject
                )
                collector.add_batch(batch, data, _now())
                progress.page(len(data))
                progress.unit_done()

            await gather_all(self._bounded(one_batch, batches))
            return _with_stats(collector.finish(), session)


@dataclass
class _TradeWindow:
    """Whether the trades endpoint takes both time bounds at once (set once per fetch)."""

    send_after_time: bool = True


def _block_time(item: object) -> float | None:
    value = to_number(item.get("block_unix_time")) if isinstance(item, dict) else None
    return value if value is not None and math.isfinite(value) else None


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _with_stats(result: FetchResult, session: ApiSession) -> FetchResult:
    return FetchResult(
        frame=result.frame,
        rejected=result.rejected,
        counts=result.counts,
        stats=session.stats.as_metadata(),
    )
