"""BirdEyeClient against a small scripted BirdEye (httpx.MockTransport): request parameters,
pagination, retries, errors, rate limiting, the live/sandbox clock. The sandbox-backed tests are
in test_birdeye_client_sandbox.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import polars as pl
import pytest
from solders.keypair import Keypair

from smart_trader import schemas
from smart_trader.ingest.prices import MULTI_PRICE
from smart_trader.ingest.swaps import TRADER_TXS
from smart_trader.ingest.token_list import token_list_params
from smart_trader.resources import birdeye as birdeye_module
from smart_trader.resources.api_client import Connection
from smart_trader.resources.api_errors import (
    ComputeUnitsExhausted,
    InvalidResponse,
    RequestRejected,
    RetriesExhausted,
)
from smart_trader.resources.birdeye import BirdEyeClient, LiveHistoryUnavailable
from smart_trader.settings import WSOL, Settings

DAY = dt.date(2026, 3, 10)
END = int(dt.datetime(2026, 3, 11, tzinfo=dt.UTC).timestamp())
KEY = "be-secret-key-123"


def address() -> str:
    return str(Keypair().pubkey())


def swap(wallet: str, n: int, t: int) -> dict[str, Any]:
    return {
        "quote": {"symbol": "SOL", "address": WSOL, "type_swap": "from",
                  "ui_amount": 1.0, "ui_change_amount": -1.0, "price": 150.0},
        "base": {"symbol": "TOK", "address": "b8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaY",
                 "type_swap": "to", "ui_amount": 10.0 + n, "ui_change_amount": 10.0 + n,
                 "price": 15.0},
        "tx_hash": f"tx-{wallet[:6]}-{n}", "source": "raydium", "block_unix_time": t,
        "tx_type": "swap", "owner": wallet, "block_number": t * 2, "ins_index": n % 3,
        "inner_ins_index": 0,
    }  # fmt: skip


Fault = Callable[[httpx.Request, int], httpx.Response | None]


@dataclass
class FakeBirdEye:
    """Enough of BirdEye for the client: paging rules, the offset wall, time bounds."""

    tokens: list[dict[str, Any]] = field(default_factory=list)
    holders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    prices: dict[str, Any] = field(default_factory=dict)
    fault: Fault | None = None
    wall: int = 10_000
    strict_time_bounds: bool = False
    log: list[httpx.Request] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)

    def params_of(self, path: str) -> list[dict[str, str]]:
        return [dict(r.url.params) for r in self.log if r.url.path == path]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request)
        signature = str(request.url)
        self.attempts[signature] = self.attempts.get(signature, 0) + 1
        if self.fault is not None:
            injected = self.fault(request, self.attempts[signature])
            if injected is not None:
                return injected
        if not request.headers.get("x-api-key"):
            return httpx.Response(401, json={"success": False, "message": "Unauthorized"})
        p = request.url.params
        offset, limit = int(p.get("offset", 0)), int(p.get("limit", 100))
        if offset + limit > self.wall:
            return httpx.Response(400, json={"success": False, "message": "offset + limit"})
        path = request.url.path
        if path == "/defi/v3/token/list":
            items = sorted(self.tokens, key=lambda t: -t["liquidity"])
            return page(items[offset : offset + limit], offset + limit < len(items))
        if path == "/defi/v3/token/holder":
            items = self.holders.get(p["address"], [])[offset : offset + limit]
            return httpx.Response(200, json={"success": True, "data": {"items": items}})
        if path == "/trader/txs/seek_by_time":
            if self.strict_time_bounds and "after_time" in p:
                return httpx.Response(422, json={"success": False, "message": "both bounds"})
            before, after = int(p["before_time"]), int(p.get("after_time", 0))
            rows = [
                r
                for r in self.trades.get(p["address"], [])
                if after < r["block_unix_time"] <= before  # inclusive before_time
            ]
            return page(rows[offset : offset + limit], offset + limit < len(rows))
        if path == "/defi/multi_price":
            asked = p["list_address"].split(",")
            data = {a: self.prices.get(a) for a in asked}
            return httpx.Response(200, json={"success": True, "data": data})
        return httpx.Response(404, json={"success": False, "message": "not found"})


def page(items: list[dict[str, Any]], has_next: bool) -> httpx.Response:
    return httpx.Response(
        200, json={"success": True, "data": {"items": items, "hasNext": has_next}}
    )


def client_for(
    monkeypatch: pytest.MonkeyPatch, fake: FakeBirdEye, sandbox: bool = True, **fields: Any
) -> BirdEyeClient:
    connection = Connection(
        base_url="http://birdeye.test",
        sandbox=sandbox,
        transport=lambda: httpx.MockTransport(fake),
    )
    defaults: dict[str, Any] = {
        "connection": connection,
        "api_key": KEY,
        "backoff_initial_seconds": 0.001,
        "backoff_max_seconds": 0.01,
        "backoff_jitter_seconds": 0.001,
        "max_retries": 4,
        "timeout_seconds": 2.0,
    }
    return BirdEyeClient(**{**defaults, **fields})


def wallet_trades(n: int, per_second: int = 3, newest: int = END - 10) -> tuple[str, list[dict]]:
    wallet = address()
    return wallet, [swap(wallet, i, newest - i // per_second) for i in range(n)]


def ranges(*wallets: str, start: dt.datetime | None = None) -> pl.DataFrame:
    begin = start or dt.datetime(2026, 2, 9, tzinfo=dt.UTC)
    return pl.DataFrame(
        {"wallet_address": list(wallets), "start": [begin] * len(wallets)},
        schema={"wallet_address": pl.String, "start": pl.Datetime("us", "UTC")},
    )


def test_swap_requests_pin_parameters_and_page_past_the_offset_wall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(birdeye_module, "OFFSET_WALL", 300)
    w1, t1 = wallet_trades(1000)  # ten windows of the (shrunk) offset wall
    w2, t2 = wallet_trades(42)
    fake = FakeBirdEye(trades={w1: t1, w2: t2}, wall=300)
    result = client_for(monkeypatch, fake).fetch_swaps(DAY, ranges(w1, w2), 20_000)
    assert result.frame.height == 1042
    assert result.frame.select(schemas.TRANSACTION_HISTORY.key).is_duplicated().sum() == 0
    assert set(result.frame.get_column("tx_hash")) == {t["tx_hash"] for t in t1 + t2}
    assert not result.frame.get_column("fetch_truncated").any()
    sent = fake.params_of("/trader/txs/seek_by_time")
    for params in sent:
        assert params["tx_type"] == "swap" and params["ui_amount_mode"] == "raw"
        assert params["limit"] == "100" and int(params["offset"]) + 100 <= 300
        assert params["after_time"] == str(
            int(dt.datetime(2026, 2, 9, tzinfo=dt.UTC).timestamp()) - 1
        )
    assert {p["before_time"] for p in sent if p["address"] == w2} == {str(END)}
    assert len({p["before_time"] for p in sent if p["address"] == w1}) >= 4  # window moved
    counts = result.counts[TRADER_TXS]
    assert counts.stored == 1042 and counts.rejected == 0
    assert counts.received == counts.stored + counts.duplicate  # overlap at a moved bound


def test_swap_fetch_stops_at_max_swaps_keeping_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    wallet, trades = wallet_trades(1000, per_second=1)
    fake = FakeBirdEye(trades={wallet: trades})
    result = client_for(monkeypatch, fake).fetch_swaps(DAY, ranges(wallet), 250)
    assert result.frame.height == 250 and result.frame.get_column("fetch_truncated").all()
    newest = {t["tx_hash"] for t in trades[:250]}
    assert set(result.frame.get_column("tx_hash")) == newest
    assert len(fake.log) == 3  # 300 rows read: enough to know there are more than 250


def test_swap_window_is_start_to_end_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    wallet = address()
    start = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
    times = [END, END - 1, int(start.timestamp()), int(start.timestamp()) - 1]
    fake = FakeBirdEye(trades={wallet: [swap(wallet, i, t) for i, t in enumerate(times)]})
    result = client_for(monkeypatch, fake).fetch_swaps(DAY, ranges(wallet, start=start), 100)
    assert sorted(result.frame.get_column("block_time").dt.epoch("s")) == times[1:3][::-1]
    assert result.counts[TRADER_TXS].filtered == 1  # END itself; after_time excludes start-1


def test_strict_time_bounds_fall_back_to_before_time_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wallet, trades = wallet_trades(250, per_second=1)
    start = dt.datetime.fromtimestamp(trades[199]["block_unix_time"], dt.UTC)
    strict = FakeBirdEye(trades={wallet: trades}, strict_time_bounds=True)
    result = client_for(monkeypatch, strict).fetch_swaps(DAY, ranges(wallet, start=start), 1000)
    assert set(result.frame.get_column("tx_hash")) == {t["tx_hash"] for t in trades[:200]}
    sent = strict.params_of("/trader/txs/seek_by_time")
    assert "after_time" in sent[0] and all("after_time" not in p for p in sent[1:])
    assert [p["offset"] for p in sent] == ["0", "0", "100", "200"]  # stops once past start


def test_transient_faults_are_retried_and_rows_match(monkeypatch: pytest.MonkeyPatch) -> None:
    wallets = [wallet_trades(230) for _ in range(3)]
    trades = dict(wallets)
    clean = client_for(monkeypatch, FakeBirdEye(trades=trades)).fetch_swaps(
        DAY, ranges(*trades), 20_000
    )

    def first_attempts_fail(request: httpx.Request, attempt: int) -> httpx.Response | None:
        failures: list[httpx.Response | None] = [
            httpx.Response(500, text="upstream exploded"),
            httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "slow down"}),
            httpx.Response(200, text="<html>gateway</html>"),
            httpx.Response(200, text='{"success": true, "data": {"items": [{"tx'),
            httpx.Response(200, json={"success": True}),
            httpx.Response(200, json={"success": False, "message": "busy"}),
            httpx.Response(503, json={"message": "maintenance"}),
        ]
        return failures[attempt - 1] if attempt <= len(failures) else None

    fake = FakeBirdEye(trades=trades, fault=first_attempts_fail)
    faulty = client_for(monkeypatch, fake, max_retries=8).fetch_swaps(DAY, ranges(*trades), 20_000)
    key = list(schemas.TRANSACTION_HISTORY.key)
    assert (
        faulty.frame.drop("fetched_at").sort(key).equals(clean.frame.drop("fetched_at").sort(key))
    )
    assert faulty.counts == clean.counts
    assert faulty.stats["http_retries"] == 7 * 9  # 9 pages, 7 failed attempts each
    assert faulty.stats["http_429"] == 9


def test_timeouts_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    wallet, trades = wallet_trades(5)

    class Slow(FakeBirdEye):
        async def __call__(self, request: httpx.Request) -> httpx.Response:
            if len(self.log) < 2:
                self.log.append(request)
                await asyncio.sleep(1.0)
            return await super().__call__(request)

    fake = Slow(trades={wallet: trades})
    result = client_for(monkeypatch, fake, timeout_seconds=0.1).fetch_swaps(
        DAY, ranges(wallet), 100
    )
    assert result.frame.height == 5 and result.stats["http_transport_errors"] == 2


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"success": False, "message": "address is invalid format"}, RequestRejected),
        (401, {"success": False, "message": "Unauthorized"}, RequestRejected),
        (403, {"success": False, "message": "Forbidden"}, RequestRejected),
        (
            400,
            {"success": False, "message": "Compute units usage limit exceeded"},
            ComputeUnitsExhausted,
        ),
    ],
)
def test_refusals_are_not_retried(
    monkeypatch: pytest.MonkeyPatch, status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    wallet, trades = wallet_trades(5)
    fake = FakeBirdEye(
        trades={wallet: trades}, fault=lambda r, n: httpx.Response(status, json=body)
    )
    with pytest.raises(error) as info:
        client_for(monkeypatch, fake).fetch_swaps(DAY, ranges(wallet), 100)
    message = str(info.value)
    assert "/trader/txs/seek_by_time" in message and f"HTTP {status}" in message
    assert body["message"] in message and KEY not in message
    assert len(fake.log) == 1


def test_persistent_bad_bodies_fail_naming_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBirdEye(fault=lambda r, n: httpx.Response(200, text="not json at all"))
    with pytest.raises(
        InvalidResponse, match=r"BirdEye /defi/v3/token/list: HTTP 200: body is not"
    ):
        client_for(monkeypatch, fake, max_retries=3).fetch_token_metrics(DAY, Settings())
    assert len(fake.log) == 4
    fake = FakeBirdEye(fault=lambda r, n: httpx.Response(200, json={"success": True, "data": 1}))
    with pytest.raises(InvalidResponse, match=r"data\.items is not a list"):
        client_for(monkeypatch, fake, max_retries=1).fetch_token_metrics(DAY, Settings())


def test_persistent_5xx_exhausts_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBirdEye(fault=lambda r, n: httpx.Response(503, json={"message": "down"}))
    with pytest.raises(RetriesExhausted) as info:
        client_for(monkeypatch, fake, max_retries=2).fetch_prices(DAY, [address()])
    assert str(info.value).startswith("BirdEye /defi/multi_price: HTTP 503: down (gave up after 3")
    assert len(fake.log) == 3


def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBirdEye(
        fault=lambda r, n: httpx.Response(429, headers={"Retry-After": "0.4"}) if n == 1 else None
    )
    began = time.monotonic()
    client_for(monkeypatch, fake).fetch_prices(DAY, [address()])
    assert time.monotonic() - began >= 0.4
    assert len(fake.log) == 2


def test_rate_limit_spaces_concurrent_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    stamps: list[float] = []

    def stamp(request: httpx.Request, attempt: int) -> None:
        stamps.append(time.monotonic())

    addresses = [address() for _ in range(2500)]
    fake = FakeBirdEye(fault=stamp)
    client = client_for(monkeypatch, fake, requests_per_second=40.0, max_concurrency=16)
    client.fetch_prices(DAY, addresses)  # 25 batches, sent concurrently
    assert len(stamps) == 25
    # Any k+1 requests span k slots, less half a slot of catch-up and some arrival jitter.
    for k, slots in ((5, 4.0), (20, 19.0)):
        span = min(b - a for a, b in zip(stamps, stamps[k:], strict=False))
        assert span >= slots / 40
    assert (stamps[-1] - stamps[0]) / 24 <= 1.2 / 40  # and not much slower than the plan


def token(liquidity: float, **extra: Any) -> dict[str, Any]:
    return {
        "address": address(), "symbol": "T", "name": "Tok", "decimals": 6, "price": 1.0,
        "liquidity": liquidity, "market_cap": 1e7, "fdv": 1e7, "volume_1h_usd": 2e5,
        "volume_24h_usd": 1e6, "price_change_2h_percent": 5.0, "price_change_24h_percent": 50.0,
        "holder": 100, "last_trade_unix_time": END - 100, **extra,
    }  # fmt: skip


def test_token_metrics_pages_sends_filters_and_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = [token(2.9e6 - i * 1e4) for i in range(260)]
    fake = FakeBirdEye(tokens=tokens)
    result = client_for(monkeypatch, fake).fetch_token_metrics(DAY, Settings(tokens_per_day=150))
    assert result.frame.height == 150 and result.frame["data_source"].unique().to_list() == [
        "sandbox"
    ]
    sent = fake.params_of("/defi/v3/token/list")
    assert [p["offset"] for p in sent] == ["0", "100"]  # the top 150 were settled on page 2
    assert sent[0] == {
        **{k: str(v) for k, v in token_list_params(Settings()).items()},
        "offset": "0",
        "limit": "100",
    }
    as_of = END - 1
    assert {r.headers["x-sandbox-as-of"] for r in fake.log} == {str(as_of)}
    assert {r.headers["x-api-key"] for r in fake.log} == {KEY}


def holder(owner: str, n: int, amount: float) -> dict[str, Any]:
    return {"owner": owner, "token_account": f"acc{n}", "ui_amount": amount, "amount": "1"}


def test_holders_paging_stops_when_enough_owners_or_list_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big, small, capped = address(), address(), address()
    owners = [address() for _ in range(400)]
    fake = FakeBirdEye(
        holders={
            big: [holder(owners[i // 2], i, 1e6 - i) for i in range(800)],  # 2 accounts/owner
            small: [holder(owners[i], i, 10.0 + i) for i in range(130)],
            capped: [holder(owners[0], i, 1.0) for i in range(2000)],  # one owner only
        }
    )
    tokens = pl.DataFrame({"token_address": [big, small, capped], "price_usd": [2.0, 1.0, 1.0]})
    settings = Settings(holders_per_token=150, max_holder_pages=4)
    result = client_for(monkeypatch, fake).fetch_whale_holders(DAY, tokens, settings)
    pages = pl.DataFrame(fake.params_of("/defi/v3/token/holder")).group_by("address").len()
    assert dict(pages.iter_rows()) == {big: 3, small: 2, capped: 4}
    per_token = dict(result.frame.group_by("token_address").len().iter_rows())
    assert per_token == {big: 150, small: 130, capped: 1}
    top = result.frame.filter(pl.col("token_address") == big).sort("rank").row(0, named=True)
    assert top["ui_amount"] == 1e6 + 1e6 - 1 and top["value_usd"] == 2 * top["ui_amount"]
    assert all(
        p["ui_amount_mode"] == "raw" and p["limit"] == "100"
        for p in fake.params_of("/defi/v3/token/holder")
    )


def test_prices_in_batches_unknown_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    known = [address() for _ in range(150)]
    unknown = [address() for _ in range(60)]
    fake = FakeBirdEye(prices={a: {"value": 2.0} for a in known})
    result = client_for(monkeypatch, fake).fetch_prices(DAY, known + unknown + known[:5])
    assert sorted(result.frame.get_column("token_address")) == sorted(known)
    sent = fake.params_of("/defi/multi_price")
    assert len(sent) == 3 and all(len(p["list_address"].split(",")) <= 100 for p in sent)
    assert result.counts[MULTI_PRICE].filtered == 60


def test_live_mode_refuses_history_and_sends_no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeBirdEye(tokens=[token(2e6)])
    client = client_for(monkeypatch, fake, sandbox=False)
    assert client.is_live and client.data_source == "birdeye"
    old = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    for call in (
        lambda: client.fetch_token_metrics(old, Settings()),
        lambda: client.fetch_whale_holders(
            old, pl.DataFrame({"token_address": [], "price_usd": []}), Settings()
        ),
        lambda: client.fetch_prices(old, [address()]),
    ):
        with pytest.raises(LiveHistoryUnavailable, match="history not available from a live API"):
            call()
    assert fake.log == []
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    result = client.fetch_token_metrics(yesterday, Settings())
    assert result.frame.height == 1 and result.frame["data_source"][0] == "birdeye"
    assert all("x-sandbox-as-of" not in r.headers for r in fake.log)


def test_progress_is_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []

    class Log:
        def info(self, msg: str) -> None:
            lines.append(msg)

    trades = dict(wallet_trades(3) for _ in range(5))
    client = client_for(monkeypatch, FakeBirdEye(trades=trades), progress_every=2)
    client.fetch_swaps(DAY, ranges(*trades), 100, log=Log())
    assert [line.split(",")[0] for line in lines] == [
        "wallet swaps: 2/5 done",
        "wallet swaps: 4/5 done",
        "wallet swaps: 5/5 done",
    ]
    assert "5 pages, 15 rows" in lines[-1] and KEY not in json.dumps(lines)


def test_exhausted_retries_name_the_wallet_and_its_time_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wallet, trades = wallet_trades(5)
    down = FakeBirdEye(
        trades={wallet: trades}, fault=lambda r, n: httpx.Response(503, json={"message": "down"})
    )
    with pytest.raises(RetriesExhausted) as info:
        client_for(monkeypatch, down, max_retries=2).fetch_swaps(DAY, ranges(wallet), 100)
    message = str(info.value)
    assert message.startswith("BirdEye /trader/txs/seek_by_time: HTTP 503: down (gave up after 3")
    assert message.endswith(
        f"fetching the swaps of wallet {wallet} in "
        "[2026-02-09T00:00:00+00:00, 2026-03-11T00:00:00+00:00)"
    )
    assert KEY not in message and len(down.log) == 3


def test_fault_counts_are_kept_per_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = [httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(502)]

    def two_faults_each(request: httpx.Request, attempt: int) -> httpx.Response | None:
        return faults[attempt - 1] if attempt <= len(faults) else None

    fake = FakeBirdEye(prices={}, fault=two_faults_each)
    result = client_for(monkeypatch, fake).fetch_prices(DAY, [address() for _ in range(150)])
    endpoint = MULTI_PRICE
    assert {k: v for k, v in result.stats.items() if k.startswith(endpoint)} == {
        f"{endpoint} http_requests": 6,  # two batches, three attempts each
        f"{endpoint} http_retries": 4,
        f"{endpoint} http_429": 2,
        f"{endpoint} http_5xx": 2,
        f"{endpoint} http_transport_errors": 0,
    }
    assert result.stats["http_retries"] == 4 and result.stats["http_5xx"] == 2


def causes(error: BaseException | None) -> list[BaseException]:
    """The error and every exception chained to it, as a traceback would print them."""
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return seen


def test_errors_of_the_async_path_chain_no_event_loop_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """run_sync asks whether a loop runs; asyncio's "no" (a RuntimeError) must not be chained
    to the API error as "During handling of the above exception, another exception occurred"."""
    refusing = FakeBirdEye(
        fault=lambda r, n: httpx.Response(401, json={"success": False, "message": "Unauthorized"})
    )
    client = client_for(monkeypatch, refusing)

    async def from_a_running_loop() -> None:
        client.fetch_prices(DAY, [address()])

    for call in (
        lambda: client.fetch_prices(DAY, [address()]),
        lambda: asyncio.run(from_a_running_loop()),
    ):
        with pytest.raises(RequestRejected) as info:
            call()
        chained = causes(info.value)
        assert [type(e) for e in chained] == [RequestRejected]
        printed = "".join(traceback.format_exception(info.value))
        assert "no running event loop" not in printed
