"""BirdEyeClient and HeliusClient against the sandbox: in process (no key) and over a real
loopback socket, fault-free and with every fault knob. A faulty fetch must give exactly the
rows of a fault-free one; refusals must surface as clear exceptions naming endpoint and status.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest
import uvicorn
from solders.keypair import Keypair

from smart_trader import schemas
from smart_trader.ingest.holders import HOLDERS
from smart_trader.ingest.ledger import FetchResult
from smart_trader.ingest.prices import MULTI_PRICE
from smart_trader.ingest.swaps import TRADER_TXS
from smart_trader.ingest.token_list import TOKEN_LIST
from smart_trader.resources.api_errors import ComputeUnitsExhausted, RequestRejected
from smart_trader.resources.birdeye import BirdEyeClient, as_of_seconds, day_end
from smart_trader.resources.helius import HeliusClient
from smart_trader.sandbox import FaultConfig, SandboxConfig, create_app, ground_truth, shared_app
from smart_trader.sandbox.transport import in_process, served_at
from smart_trader.settings import Settings

SEED = 7
DAY = dt.date(2026, 11, 20)
START = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
SETTINGS = Settings(holders_per_token=150, max_holder_pages=3)
FAST: dict[str, Any] = {
    "backoff_initial_seconds": 0.001,
    "backoff_max_seconds": 0.01,
    "backoff_jitter_seconds": 0.001,
    "max_retries": 4,
    "timeout_seconds": 0.5,
}
KEYS = {
    TOKEN_LIST: ["snapshot_date", "token_address"],
    HOLDERS: ["snapshot_date", "token_address", "wallet_address"],
    TRADER_TXS: list(schemas.TRANSACTION_HISTORY.key),
    MULTI_PRICE: ["snapshot_date", "token_address"],
}


@dataclass
class Fetch:
    """One of each fetch for the same day, inputs fixed by the fault-free run."""

    results: dict[str, FetchResult]

    def frame(self, endpoint: str) -> pl.DataFrame:
        return self.results[endpoint].frame.drop("fetched_at").sort(KEYS[endpoint])


def fetch_all(client: BirdEyeClient, tokens: pl.DataFrame, ranges: pl.DataFrame) -> Fetch:
    prices_for = [*tokens.get_column("token_address").to_list()[:3], "NotAToken11111111111111"]
    return Fetch(
        {
            TOKEN_LIST: client.fetch_token_metrics(DAY, SETTINGS),
            HOLDERS: client.fetch_whale_holders(DAY, tokens.head(4), SETTINGS),
            TRADER_TXS: client.fetch_swaps(DAY, ranges, 20_000),
            MULTI_PRICE: client.fetch_prices(DAY, prices_for),
        }
    )


@pytest.fixture(scope="module")
def inputs() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Tokens of the day and a wallet sample with several pages of swaps (bots) and few."""
    client = BirdEyeClient(connection=in_process(SEED), **FAST)
    tokens = client.fetch_token_metrics(DAY, SETTINGS).frame.select("token_address", "price_usd")
    truth = ground_truth(SEED, DAY)
    wallets = (
        truth.filter(pl.col("archetype") == "bot").head(2).get_column("wallet_address").to_list()
        + truth.filter(pl.col("archetype") == "smart")
        .head(4)
        .get_column("wallet_address")
        .to_list()
    )
    ranges = pl.DataFrame(
        {"wallet_address": wallets, "start": [START] * len(wallets)},
        schema={"wallet_address": pl.String, "start": schemas.UTC_TIMESTAMP},
    )
    return tokens, ranges


def sandbox_client(faults: str) -> BirdEyeClient:
    return BirdEyeClient(connection=in_process(SEED, faults), **FAST)


def request_log(faults: str) -> list[Any]:
    return list(shared_app(SEED, faults).state.request_log)


@pytest.fixture(scope="module")
def baseline(inputs: tuple[pl.DataFrame, pl.DataFrame]) -> Fetch:
    return fetch_all(sandbox_client("fault_seed=1000"), *inputs)


def test_fault_free_fetch_pins_parameters_and_reads_each_page_once(
    baseline: Fetch, inputs: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    log = request_log("fault_seed=1000")
    assert all(e.status == 200 for e in log)
    assert all(e.params.get("ui_amount_mode") == "raw" for e in log)
    keys = [(e.path, tuple(sorted(e.params.items()))) for e in log]
    assert len(keys) == len(set(keys))  # no page asked twice
    trades = [e.params for e in log if e.path == TRADER_TXS]
    assert all(p["tx_type"] == "swap" and p["limit"] == "100" for p in trades)
    assert {p["before_time"] for p in trades} == {str(int(day_end(DAY).timestamp()))}
    assert {p["after_time"] for p in trades} == {str(int(START.timestamp()) - 1)}
    assert max(int(p["offset"]) for p in trades) >= 100  # bots: several pages
    holders = [e.params for e in log if e.path == HOLDERS]
    assert all(p["limit"] == "100" for p in holders)
    token_list = [e.params for e in log if e.path == TOKEN_LIST]
    assert token_list[0]["sort_by"] == "liquidity" and token_list[0]["min_liquidity"] == "1000000.0"
    for endpoint, result in baseline.results.items():
        spec = schemas.TABLES_BY_PATH[
            {
                TOKEN_LIST: "bronze/token_metrics",
                HOLDERS: "bronze/whale_holders",
                TRADER_TXS: "bronze/transaction_history",
                MULTI_PRICE: "bronze/token_prices",
            }[endpoint]
        ]
        assert result.frame.schema == spec.schema
        assert result.frame.height > 0 and result.rejected.height == 0
        assert result.counts[endpoint].stored == result.frame.height
    swaps = baseline.results[TRADER_TXS].frame
    assert swaps.filter(
        (pl.col("block_time") < START) | (pl.col("block_time") >= day_end(DAY))
    ).is_empty()
    assert baseline.results[TOKEN_LIST].frame["data_source"].unique().to_list() == ["sandbox"]
    assert baseline.results[MULTI_PRICE].frame.height == 3  # the unknown one is absent


def test_as_of_clock_is_the_end_of_the_day_and_sandbox_use_is_logged() -> None:
    lines: list[str] = []

    class Log:
        def info(self, msg: str) -> None:
            lines.append(msg)

    assert as_of_seconds(DAY) == int(dt.datetime(2026, 11, 21, tzinfo=dt.UTC).timestamp()) - 1
    other_day = BirdEyeClient(connection=in_process(SEED), **FAST).fetch_token_metrics(
        DAY - dt.timedelta(days=3), SETTINGS, log=Log()
    )
    assert other_day.frame["snapshot_date"].unique().to_list() == [DAY - dt.timedelta(days=3)]
    assert lines[0].startswith("BirdEye: no API key (BIRDEYE_API_KEY) set, using the in-process")
    changed = other_day.frame.join(
        BirdEyeClient(connection=in_process(SEED), **FAST).fetch_token_metrics(DAY, SETTINGS).frame,
        on="token_address",
        how="semi",
    )
    assert changed.height < other_day.frame.height  # another day, another market


TRANSIENT = [
    "server_error=0.5",
    "rate_limit=0.4,retry_after_seconds=0",
    "timeout=0.3,timeout_seconds=2",
    "slow=0.5,slow_seconds=0.3",
    "truncated_body=0.5",
    "non_json_body=0.5",
    "server_error=0.2,rate_limit=0.2,truncated_body=0.2,non_json_body=0.2,retry_after_seconds=0",
]


@pytest.mark.parametrize("knob", TRANSIENT)
def test_transient_faults_give_the_same_rows(
    knob: str, baseline: Fetch, inputs: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    faults = f"{knob},fault_seed={zlib.crc32(knob.encode()) % 10_000}"
    faulty = fetch_all(sandbox_client(faults), *inputs)
    for endpoint in KEYS:
        assert faulty.frame(endpoint).equals(baseline.frame(endpoint)), endpoint
        assert faulty.results[endpoint].counts == baseline.results[endpoint].counts
    log = request_log(faults)
    if knob.startswith("slow"):  # slow answers (0.3 s, under the 0.5 s timeout) are no failure
        assert max(r.stats["http_seconds"] for r in faulty.results.values()) >= 0.3
        assert sum(r.stats["http_retries"] for r in faulty.results.values()) == 0
    else:
        assert sum(r.stats["http_retries"] for r in faulty.results.values()) > 0
    # every page was answered (last attempt 200) and none was asked beyond the baseline's
    pages = {(e.path, tuple(sorted(e.params.items()))) for e in log}
    assert pages == {
        (e.path, tuple(sorted(e.params.items()))) for e in request_log("fault_seed=1000")
    }


def test_duplicate_rows_are_counted_once(
    baseline: Fetch, inputs: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    faults = "duplicate_rows=0.7,fault_seed=11"
    faulty = fetch_all(sandbox_client(faults), *inputs)
    for endpoint in KEYS:
        assert faulty.frame(endpoint).equals(baseline.frame(endpoint)), endpoint
    duplicates = sum(r.counts[e].duplicate for e, r in faulty.results.items())
    injected = shared_app(SEED, faults).state.injected.counts()
    assert duplicates > 0
    assert duplicates == sum(kinds.get("duplicate", 0) for kinds in injected.values())


def test_malformed_records_are_rejected_never_dropped(
    baseline: Fetch, inputs: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    faults = "malformed_records=0.2,fault_seed=5"
    faulty = fetch_all(sandbox_client(faults), *inputs)
    injected = shared_app(SEED, faults).state.injected
    for endpoint, result in faulty.results.items():
        counts = result.counts[endpoint]
        assert counts.rejected == result.rejected.height == injected.bad_records(endpoint)
        assert set(result.rejected.get_column("endpoint")) <= {endpoint}
    swaps = faulty.results[TRADER_TXS]
    clean = baseline.results[TRADER_TXS]
    assert swaps.counts[TRADER_TXS].received == clean.counts[TRADER_TXS].received
    assert swaps.frame.height + swaps.rejected.height == clean.frame.height
    reasons = set(swaps.rejected.get_column("reason").str.split(":").list.first())
    assert reasons >= {"owner_mismatch", "same_token_both_legs"}
    assert (
        faulty.frame(TRADER_TXS)
        .join(baseline.frame(TRADER_TXS), on=KEYS[TRADER_TXS], how="anti")
        .is_empty()
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    app: Any


def serve(config: SandboxConfig) -> Iterator[Served]:
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "sandbox server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture(scope="module")
def served_faulty() -> Iterator[Served]:
    faults = FaultConfig.parse(
        "server_error=0.15,rate_limit=0.1,truncated_body=0.15,non_json_body=0.1,timeout=0.1,"
        "duplicate_rows=0.3,retry_after_seconds=0,timeout_seconds=4,fault_seed=3"
    )
    yield from serve(SandboxConfig(seed=SEED, api_key="right-key", faults=faults))


def socket_client(served: Served, **fields: Any) -> BirdEyeClient:
    # The server shares this process (and its GIL): allow for queueing in the timeout.
    return BirdEyeClient(
        connection=served_at(served.url),
        api_key=fields.pop("api_key", "right-key"),
        **{**FAST, "timeout_seconds": 2.0, **fields},
    )


def test_over_a_socket_with_faults_same_rows(
    served_faulty: Served, baseline: Fetch, inputs: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    faulty = fetch_all(socket_client(served_faulty), *inputs)
    for endpoint in KEYS:
        assert faulty.frame(endpoint).equals(baseline.frame(endpoint)), endpoint
    statuses = {e.status for e in served_faulty.app.state.request_log}
    assert {200, 429, 500} <= statuses


def test_over_a_socket_refusals_are_clear(served_faulty: Served) -> None:
    with pytest.raises(RequestRejected) as info:
        socket_client(served_faulty, api_key="wrong-key").fetch_token_metrics(DAY, SETTINGS)
    assert str(info.value).startswith("BirdEye /defi/v3/token/list: HTTP 401")
    assert "wrong-key" not in str(info.value)


def test_compute_units_exhausted_is_its_own_error() -> None:
    for served in serve(SandboxConfig(seed=SEED, compute_units=150)):
        client = socket_client(served, api_key="k")
        client.fetch_token_metrics(DAY, SETTINGS)  # 100 CU
        began = len(served.app.state.request_log)
        with pytest.raises(ComputeUnitsExhausted) as info:
            client.fetch_token_metrics(DAY, SETTINGS)
        assert str(info.value) == (
            "BirdEye /defi/v3/token/list: HTTP 400: Compute units usage limit exceeded"
        )
        assert len(served.app.state.request_log) == began + 1  # not retried


def test_plan_rate_is_kept_over_a_socket(
    baseline: Fetch, inputs: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Sandbox and client at the same 40 requests/s: all pages, no 429, close to the rate."""
    for served in serve(SandboxConfig(seed=SEED, rate_limit_rps=40, rate_limit_burst=4)):
        client = socket_client(served, api_key="k", requests_per_second=40)
        client.fetch_whale_holders(DAY, inputs[0].head(12), SETTINGS)  # warms the server
        result = client.fetch_whale_holders(DAY, inputs[0].head(12), SETTINGS)
        statuses = [e.status for e in served.app.state.request_log]
        assert statuses.count(200) == len(statuses) >= 24
        took = result.stats["http_seconds"]
        assert result.stats["http_requests"] / took >= 0.6 * 40
        assert (
            result.frame.filter(
                pl.col("token_address").is_in(inputs[0]["token_address"][:4].to_list())
            )
            .drop("fetched_at")
            .sort(KEYS[HOLDERS])
            .equals(baseline.frame(HOLDERS))
        )


def test_helius_in_process_and_over_a_socket() -> None:
    url = "https://hooks.example.com/smart-trader"
    first, second = (str(Keypair().pubkey()) for _ in range(2))
    in_app = HeliusClient(connection=in_process(SEED), webhook_url=url, auth_header="Bearer x")
    for sandbox in serve(SandboxConfig(seed=SEED, helius_api_key="hel-key-42")):
        over_socket = HeliusClient(
            connection=served_at(sandbox.url),
            api_key="hel-key-42",
            webhook_url=url,
            requests_per_second=50,
        )
        for client in (in_app, over_socket):
            existing = client.find_webhook_for_url()
            if existing is not None:
                client.delete_webhook(existing.webhook_id)
            created = client.create_webhook([first])
            assert client.find_webhook_for_url(url) == created
            edited = client.edit_webhook(created.webhook_id, [second])
            assert edited.account_addresses == (second,)
            assert client.get_webhook(created.webhook_id).webhook_url == url
            client.delete_webhook(created.webhook_id)
            assert client.find_webhook_for_url(url) is None
            with pytest.raises(RequestRejected, match=r"/v0/webhooks/\{webhookID\}: HTTP 404"):
                client.get_webhook(created.webhook_id)
        bad = HeliusClient(
            connection=served_at(sandbox.url), api_key="hel-wrong-key", webhook_url=url
        )
        with pytest.raises(RequestRejected) as info:
            bad.list_webhooks()
        assert str(info.value).startswith("Helius /v0/webhooks: HTTP 401")
        assert "hel-wrong-key" not in str(info.value)
