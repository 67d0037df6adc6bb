"""The webhook receiver over real HTTP on loopback: auth, durability, idempotence, bad bodies."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from smart_trader import schemas
from smart_trader.lake import Lake
from smart_trader.receiver.flusher import run_flusher
from smart_trader.receiver.parse import ENDPOINT
from smart_trader.receiver.spool import Spool
from smart_trader.settings import WSOL
from smart_trader_tests.receiver_server import (
    SECRET,
    free_port,
    kill,
    receiver_thread,
    start_receiver_process,
    wait_flushed,
    wait_ready,
)

WALLET = "MASi45ub7Qe4ZE36UT5G6cU4ud8Fhhe4deS4F3cw9KTA"
POOL = "yNoVKf58ZTBqNAYT3j5qcdsyuMNmPfYetW5v6JXmj54o"
MINT = "b8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCmrG6dLaY"
AUTH = {"Authorization": SECRET}
TIMESTAMP = 1773446400  # 2026-03-14 00:00 UTC


def buy_item(
    signature: str, lamports: int = 1_500_000_000, tokens: float = 18300.0
) -> dict[str, Any]:
    """A Helius enhanced transaction: WALLET buys MINT with SOL (typed UNKNOWN, no events)."""
    return {
        "description": "",
        "type": "UNKNOWN",
        "source": "METEORA_DAMM_V2",
        "fee": 5000,
        "feePayer": WALLET,
        "signature": signature,
        "slot": 359226070,
        "timestamp": TIMESTAMP + 60,
        "nativeTransfers": [{"fromUserAccount": WALLET, "toUserAccount": POOL, "amount": lamports}],
        "tokenTransfers": [
            {
                "fromUserAccount": POOL,
                "toUserAccount": WALLET,
                "fromTokenAccount": "Xgzg",
                "toTokenAccount": "mLid",
                "tokenAmount": tokens,
                "mint": MINT,
                "tokenStandard": "Fungible",
            }
        ],
        "accountData": [],
        "transactionError": None,
        "instructions": [],
        "events": [],
    }


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Lake]]:
    root = tmp_path_factory.mktemp("receiver")
    lake = Lake(str(root / "lake"))
    with receiver_thread(root / "spool", lake, max_body_bytes=64 * 1024) as url:
        yield url, lake


def events(lake: Lake, prefix: str) -> pl.DataFrame:
    return (
        lake.scan(schemas.WEBHOOK_EVENTS)
        .filter(pl.col("signature").str.starts_with(prefix))
        .collect()
    )


def swaps(lake: Lake, prefix: str) -> pl.DataFrame:
    return lake.scan(schemas.LIVE_SWAPS).filter(pl.col("tx_hash").str.starts_with(prefix)).collect()


def test_a_valid_body_is_answered_200_and_stored(receiver: tuple[str, Lake]) -> None:
    url, lake = receiver
    body = [buy_item("valid-1"), buy_item("valid-2", lamports=2_000_000_000, tokens=5.5)]
    r = httpx.post(f"{url}/helius", json=body, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"received": 2}
    wait_flushed(url)
    stored = events(lake, "valid-").sort("signature")
    assert stored["signature"].to_list() == ["valid-1", "valid-2"]
    assert stored["swap_status"].to_list() == ["swap", "swap"]
    # the raw item exactly as received
    assert [json.loads(raw) for raw in stored["raw_item"]] == body
    live = swaps(lake, "valid-").sort("tx_hash")
    assert live["sold_token_address"].to_list() == [WSOL, WSOL]
    assert live["bought_token_address"].to_list() == [MINT, MINT]
    assert live["sold_amount"].to_list() == [1.5, 2.0]
    assert live["bought_amount"].to_list() == [18300.0, 5.5]
    assert live["wallet_address"].to_list() == [WALLET, WALLET]
    assert live["block_date"].cast(pl.String).to_list() == ["2026-03-14"] * 2
    assert live["source"].to_list() == ["meteora_damm_v2"] * 2


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET + "x"}, {"X-Auth": SECRET}],
)
def test_a_wrong_or_missing_authorization_is_401_and_stores_nothing(
    receiver: tuple[str, Lake], headers: dict[str, str]
) -> None:
    url, lake = receiver
    before = httpx.get(f"{url}/healthz").json()["spooled"]
    r = httpx.post(f"{url}/helius", json=[buy_item("unauthorized-1")], headers=headers)
    assert r.status_code == 401
    assert httpx.get(f"{url}/healthz").json()["spooled"] == before
    wait_flushed(url)
    assert events(lake, "unauthorized-").is_empty()


def test_the_same_body_twice_stores_each_event_once(receiver: tuple[str, Lake]) -> None:
    url, lake = receiver
    body = [buy_item("dup-1"), buy_item("dup-2"), buy_item("dup-1")]
    for _ in range(2):
        assert httpx.post(f"{url}/helius", json=body, headers=AUTH).status_code == 200
        wait_flushed(url)
    assert httpx.post(f"{url}/helius", json=body[:1], headers=AUTH).status_code == 200
    wait_flushed(url)
    assert sorted(events(lake, "dup-")["signature"]) == ["dup-1", "dup-2"]
    assert sorted(swaps(lake, "dup-")["tx_hash"]) == ["dup-1", "dup-2"]


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"signature": "x"}',
        b"[1, 2",
        b"\xff\xfe",
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="nested-10000-deep"),
    ],
)
def test_a_body_that_is_not_a_json_array_is_400(receiver: tuple[str, Lake], content: bytes) -> None:
    url, _ = receiver
    r = httpx.post(f"{url}/helius", content=content, headers=AUTH)
    assert r.status_code == 400


def test_an_oversized_body_is_413_with_or_without_a_length(receiver: tuple[str, Lake]) -> None:
    url, lake = receiver
    body = json.dumps([buy_item(f"big-{i}") for i in range(200)]).encode()
    assert len(body) > 64 * 1024
    assert httpx.post(f"{url}/helius", content=body, headers=AUTH).status_code == 413

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to refuse early
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    assert httpx.post(f"{url}/helius", content=chunks(), headers=AUTH).status_code == 413
    wait_flushed(url)
    assert events(lake, "big-").is_empty()


def test_a_malformed_item_is_rejected_with_its_reason_and_the_rest_kept(
    receiver: tuple[str, Lake],
) -> None:
    url, lake = receiver
    no_signature = {k: v for k, v in buy_item("x").items() if k != "signature"}
    bad_amount = buy_item("malformed-bad")
    bad_amount["tokenTransfers"][0]["tokenAmount"] = "18300"
    items = [buy_item("malformed-ok-1"), no_signature, "just a string", bad_amount]
    items.append(buy_item("malformed-ok-2"))
    raws = [json.dumps(item) for item in items]
    r = httpx.post(f"{url}/helius", content="[" + ", ".join(raws) + "]", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"received": 5}
    wait_flushed(url)
    assert sorted(events(lake, "malformed-")["signature"]) == ["malformed-ok-1", "malformed-ok-2"]
    rejected = lake.scan(schemas.REJECTED_RECORDS).filter(pl.col("endpoint") == ENDPOINT)
    reasons = dict(rejected.select("raw_record", "reason").collect().iter_rows())
    assert reasons == {
        raws[1]: "signature: missing or not a non-empty string",
        raws[2]: "item is not a JSON object",
        raws[3]: "tokenTransfers[0].tokenAmount: missing or not a number",
    }


def test_a_delivery_answered_200_survives_sigkill(tmp_path: Path) -> None:
    lake_uri = str(tmp_path / "lake")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_receiver_process(tmp_path / "spool", lake_uri, port)
    try:
        wait_ready(url, process=process)
        bodies = [[buy_item(f"kill-{i}-{j}") for j in range(5)] for i in range(20)]

        def post(body: list[dict[str, Any]]) -> int:
            return httpx.post(f"{url}/helius", json=body, headers=AUTH, timeout=10).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, bodies))
        assert statuses == [200] * 20
    finally:
        kill(process)  # right after the last 200: most bodies are only in the spool
    process = start_receiver_process(tmp_path / "spool", lake_uri, port)
    try:
        wait_ready(url, process=process)
        wait_flushed(url)
    finally:
        kill(process)
    stored = Lake(lake_uri).scan(schemas.WEBHOOK_EVENTS).collect()
    expected = sorted(item["signature"] for body in bodies for item in body)
    assert sorted(stored["signature"]) == expected
    assert Lake(lake_uri).scan(schemas.LIVE_SWAPS).collect().height == len(expected)


def test_a_flusher_whose_receiver_died_before_it_started_flushes_and_exits(
    tmp_path: Path,
) -> None:
    """A receiver SIGKILLed while its flusher still imports: the flusher must not take init for
    its receiver and run on forever, holding the spool's flusher lock from the restarted one."""
    spool = Spool(tmp_path / "spool")
    spool.append(json.dumps([buy_item("orphan-1")]).encode()).result()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    context = multiprocessing.get_context("spawn")
    lake = Lake(str(tmp_path / "lake"))
    stop = context.Event()  # held here until the child has it
    flusher = context.Process(
        target=run_flusher, args=(tmp_path / "spool", lake, spool.cell, stop, 0.05, dead.pid)
    )
    flusher.start()
    flusher.join(timeout=120)
    if flusher.exitcode is None:
        flusher.kill()
    spool.close()
    assert flusher.exitcode == 0
    assert list(events(lake, "orphan-")["signature"]) == ["orphan-1"]
