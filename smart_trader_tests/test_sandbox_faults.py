"""Every fault knob is observable, deterministic, and transient ones give way to retries."""

from __future__ import annotations

import json
import time
import warnings
from datetime import date
from typing import Any

import pytest

from smart_trader.sandbox import FaultConfig, SandboxConfig, create_app, get_market, shared_app
from smart_trader.sandbox.faults import VALID_KINDS
from smart_trader.sandbox.market import day_end
from smart_trader.sandbox.tokens import DAY

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SEED = 7
AT = day_end(date(2025, 3, 10))
HEADERS = {"X-API-KEY": "test", "x-sandbox-as-of": str(AT)}
TRADES = "/trader/txs/seek_by_time"


def _client(spec: str) -> TestClient:
    return TestClient(create_app(SandboxConfig(seed=SEED, faults=FaultConfig.parse(spec))))


def _busy_wallet() -> str:
    market = get_market(SEED)
    bot = int(market.population.by_archetype["bot"][0])
    return market.population.addresses[bot]


def test_parse_spec() -> None:
    c = FaultConfig.parse("server_error=0.1, rate_limit=0.05,fault_seed=3,slow_seconds=0.5")
    assert (c.server_error, c.rate_limit, c.fault_seed, c.slow_seconds) == (0.1, 0.05, 3, 0.5)
    assert FaultConfig.parse(None) == FaultConfig() == FaultConfig.parse("")
    for bad in ("nope=1", "server_error=2", "server_error=x", "server_error"):
        with pytest.raises(ValueError):
            FaultConfig.parse(bad)


def test_server_errors_and_429_bursts_give_way_to_retries() -> None:
    c = _client("server_error=1,max_faulty_attempts=2")
    codes = [c.get("/defi/v3/token/list", headers=HEADERS).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    c = _client("rate_limit=1,retry_after_seconds=2,max_faulty_attempts=3")
    r = c.get("/defi/v3/token/list", headers=HEADERS)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json() == {"success": False, "message": "Too many requests"}
    codes = [c.get("/defi/v3/token/list", headers=HEADERS).status_code for _ in range(3)]
    assert codes == [429, 429, 200]


def test_slow_and_timeout_answers_sleep() -> None:
    for spec, floor in (("slow=1,slow_seconds=0.3", 0.3), ("timeout=1,timeout_seconds=0.5", 0.5)):
        c = _client(spec)
        start = time.perf_counter()
        assert c.get("/defi/v3/token/list", headers=HEADERS).status_code == 200
        assert time.perf_counter() - start >= floor


def test_truncated_and_non_json_bodies() -> None:
    r = _client("truncated_body=1").get("/defi/v3/token/list", headers=HEADERS)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    r = _client("non_json_body=1").get("/defi/v3/token/list", headers=HEADERS)
    assert r.headers["content-type"].startswith("text/html")


def test_malformed_records_are_logged_per_kind() -> None:
    app = create_app(SandboxConfig(seed=SEED, faults=FaultConfig.parse("malformed_records=0.5")))
    c = TestClient(app)
    wallet = _busy_wallet()
    items: list[dict[str, Any]] = []
    for offset in range(0, 1000, 100):
        r = c.get(
            TRADES,
            params={
                "address": wallet,
                "offset": offset,
                "before_time": AT,
                "after_time": AT - 10 * DAY,
            },
            headers=HEADERS,
        )
        items += r.json()["data"]["items"]
    counts = app.state.injected.counts()[TRADES]
    assert set(counts) == {
        "missing_field",
        "null_field",
        "string_number",
        "negative_amount",
        "unknown_type_swap",
        "sign_contradiction",
        "same_token_both_legs",
        "owner_mismatch",
    }
    assert "string_number" in VALID_KINDS
    assert sum(counts.values()) == sum(1 for i in items if _is_odd(i, wallet))
    assert app.state.injected.bad_records(TRADES) == sum(counts.values()) - counts["string_number"]
    again = c.get(
        TRADES,
        params={"address": wallet, "offset": 0, "before_time": AT, "after_time": AT - 10 * DAY},
        headers=HEADERS,
    )
    assert again.json()["data"]["items"] == items[:100]  # same corruption on every delivery
    assert app.state.injected.counts()[TRADES] == counts  # re-delivery is not a new record


def _is_odd(item: dict[str, Any], wallet: str) -> bool:
    if any(k not in item for k in ("tx_hash", "block_unix_time", "owner", "base")):
        return True
    if item["owner"] != wallet:
        return True
    legs = (item["base"], item["quote"])
    if legs[0]["address"] == legs[1]["address"]:
        return True
    for leg in legs:
        v = leg["ui_change_amount"]
        if v is None or isinstance(v, str) or leg["type_swap"] not in ("from", "to"):
            return True
        if leg["amount"] < 0 or (v < 0) != (leg["type_swap"] == "from"):
            return True
    return False


def test_duplicated_rows_across_pages() -> None:
    app = create_app(SandboxConfig(seed=SEED, faults=FaultConfig.parse("duplicate_rows=1")))
    c = TestClient(app)
    params = {"address": _busy_wallet(), "before_time": AT, "after_time": AT - 10 * DAY}
    first = c.get(TRADES, params={**params, "limit": 50}, headers=HEADERS).json()["data"]
    second = c.get(TRADES, params={**params, "limit": 50, "offset": 50}, headers=HEADERS).json()
    rows = second["data"]["items"]
    # page 1 repeats the next page's first row; page 2 repeats the previous page's last row
    assert len(first["items"]) == 51 and len(rows) == 51
    assert first["items"][50] == rows[1] and rows[0] == first["items"][49]
    assert app.state.injected.counts()[TRADES]["duplicate"] >= 1


def test_a_retrying_client_gets_every_page_exactly_once() -> None:
    spec = (
        "server_error=0.3,rate_limit=0.2,truncated_body=0.2,non_json_body=0.2,"
        "retry_after_seconds=0,fault_seed=11"
    )
    c = _client(spec)
    clean = _client("")
    params = {"address": _busy_wallet(), "before_time": AT, "after_time": AT - 6 * DAY}
    faulted = 0
    for offset in range(0, 600, 100):
        p = {**params, "offset": offset}
        expected = clean.get(TRADES, params=p, headers=HEADERS).content
        for _ in range(10):
            r = c.get(TRADES, params=p, headers=HEADERS)
            try:
                if r.status_code == 200 and json.loads(r.content):
                    break
            except json.JSONDecodeError:
                pass
            faulted += 1
        assert r.content == expected
    assert faulted > 0


def test_shared_app_is_cached_per_seed_and_spec() -> None:
    a = shared_app(SEED, "server_error=0.1")
    assert shared_app(SEED, "server_error=0.1") is a
    assert shared_app(SEED, None) is not a and shared_app(SEED + 1, "server_error=0.1") is not a
