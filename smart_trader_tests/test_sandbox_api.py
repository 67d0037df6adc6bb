"""Contract tests of the BirdEye-shaped endpoints (shapes pinned to external-apis.md)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from datetime import date
from typing import Any

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from smart_trader.sandbox import SandboxConfig, create_app, day_end, get_market
from smart_trader.sandbox.tokens import DAY, FIRST_MEME
from smart_trader.settings import NATIVE_SOL, WSOL

SEED = 7
AT = day_end(date(2025, 3, 10))
HEADERS = {"X-API-KEY": "test", "x-sandbox-as-of": str(AT)}
FILTERS = {
    "sort_by": "liquidity",
    "sort_type": "desc",
    "min_liquidity": 1_000_000,
    "max_liquidity": 3_000_000,
    "min_volume_1h_usd": 100_000,
    "min_price_change_2h_percent": 0,
    "min_price_change_24h_percent": 30,
    "limit": 50,
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(SandboxConfig(seed=SEED)))


def _get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(path, params=params, headers=HEADERS)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["success"] is True
    return body


def _daily_tokens(client: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _get(client, "/defi/v3/token/list", **FILTERS)["data"]["items"]
    return items


def _trader(client: TestClient) -> str:
    truth = get_market(SEED).population
    token = _daily_tokens(client)[0]["address"]
    items = _get(client, "/defi/v3/token/holder", address=token)["data"]["items"]
    for item in items:
        w = truth.index.get(item["owner"])
        if w is not None and truth.archetype(w) in ("noise", "momentum", "smart"):
            return str(item["owner"])
    raise AssertionError("no trader among the holders")


def test_token_list_shape_filters_and_paging(client: TestClient) -> None:
    body = _get(client, "/defi/v3/token/list", **FILTERS)
    data = body["data"]
    assert set(data) == {"items", "hasNext"} and data["hasNext"] is True
    items = data["items"]
    assert len(items) == 50
    for key in (
        "address",
        "logo_uri",
        "market_cap",
        "fdv",
        "liquidity",
        "price",
        "holder",
        "volume_1h_usd",
        "price_change_2h_percent",
        "price_change_24h_percent",
        "trade_24h_count",
        "last_trade_unix_time",
        "recent_listing_time",
        "is_scaled_ui_token",
        "unique_wallet_24h",
        "volume_buy_24h_usd",
    ):
        assert key in items[0], key
    liq = [i["liquidity"] for i in items]
    assert liq == sorted(liq, reverse=True)
    assert all(1e6 <= i["liquidity"] <= 3e6 and i["price_change_24h_percent"] >= 30 for i in items)
    rest = _get(client, "/defi/v3/token/list", **{**FILTERS, "offset": 50})["data"]
    assert rest["hasNext"] is False and 0 < len(rest["items"]) < 50
    assert not {i["address"] for i in items} & {i["address"] for i in rest["items"]}
    asc = _get(client, "/defi/v3/token/list", sort_by="volume_24h_usd", sort_type="asc")
    vols = [i["volume_24h_usd"] for i in asc["data"]["items"]]
    assert vols == sorted(vols)


def test_holder_shape_and_short_page(client: TestClient) -> None:
    token = _daily_tokens(client)[0]["address"]
    first = _get(client, "/defi/v3/token/holder", address=token, limit=100)["data"]
    assert set(first) == {"items"}
    item = first["items"][0]
    assert set(item) == {
        "amount",
        "decimals",
        "mint",
        "owner",
        "token_account",
        "ui_amount",
        "is_scaled_ui_token",
        "multiplier",
    }
    assert isinstance(item["amount"], str) and isinstance(item["ui_amount"], float)
    assert item["mint"] == token
    amounts = [int(i["amount"]) for i in first["items"]]
    assert amounts == sorted(amounts, reverse=True)
    second = _get(client, "/defi/v3/token/holder", address=token, offset=100, limit=100)["data"]
    assert len(first["items"]) == 100 and 0 < len(second["items"]) < 100
    owners = [i["owner"] for i in first["items"] + second["items"]]
    assert len(set(owners)) < len(owners)  # an owner with two token accounts


def test_trader_txs_shape_order_and_windows(client: TestClient) -> None:
    wallet = _trader(client)
    data = _get(
        client,
        "/trader/txs/seek_by_time",
        address=wallet,
        limit=5,
        after_time=AT - 30 * DAY,
        before_time=AT,
    )["data"]
    assert set(data) == {"items", "hasNext"}
    item = data["items"][0]
    for key in (
        "quote",
        "base",
        "base_price",
        "quote_price",
        "tx_hash",
        "source",
        "block_unix_time",
        "tx_type",
        "address",
        "owner",
        "block_number",
        "volume_usd",
        "volume",
        "ins_index",
        "signers",
        "interacted_program_id",
    ):
        assert key in item, key
    assert "side" not in item and item["owner"] == wallet and item["tx_type"] == "swap"
    for leg in (item["base"], item["quote"]):
        assert set(leg) >= {
            "symbol",
            "decimals",
            "address",
            "amount",
            "type",
            "type_swap",
            "ui_amount",
            "price",
            "nearest_price",
            "change_amount",
            "ui_change_amount",
            "is_scaled_ui_token",
            "multiplier",
        }
        assert isinstance(leg["amount"], int)
        assert (leg["ui_change_amount"] < 0) == (leg["type_swap"] == "from")
    assert {item["base"]["type_swap"], item["quote"]["type_swap"]} == {"from", "to"}
    full = _get(
        client,
        "/trader/txs/seek_by_time",
        address=wallet,
        limit=100,
        after_time=AT - 30 * DAY,
        before_time=AT,
    )["data"]["items"]
    times = [i["block_unix_time"] for i in full]
    assert times == sorted(times, reverse=True)
    assert all(AT - 30 * DAY <= t <= AT for t in times)
    newer = _get(
        client,
        "/trader/txs/seek_by_time",
        address=wallet,
        before_time=AT + 5 * DAY,
        after_time=AT - 30 * DAY,
    )
    assert all(i["block_unix_time"] <= AT for i in newer["data"]["items"])  # as-of bound
    paged = []
    for offset in range(0, len(full), 3):
        paged += _get(
            client,
            "/trader/txs/seek_by_time",
            address=wallet,
            limit=3,
            offset=offset,
            after_time=AT - 30 * DAY,
            before_time=AT,
        )["data"]["items"]
    assert paged == full


def test_tx_type_filter_and_native_sol(client: TestClient) -> None:
    market = get_market(SEED)
    tbl = market.episode_table(AT // DAY - 2)
    add_wallet = market.population.addresses[int(tbl.wallet[np.flatnonzero(tbl.kind == 1)[0]])]
    wide = {"address": add_wallet, "after_time": AT - 10 * DAY, "before_time": AT}
    first_add = _get(client, "/trader/txs/seek_by_time", **wide, tx_type="add")["data"]["items"][0]
    # A window around one add, small enough for one page of an active wallet.
    at = int(first_add["block_unix_time"])
    params = {"address": add_wallet, "after_time": at - 600, "before_time": at + 600}
    swaps = _get(client, "/trader/txs/seek_by_time", **params, tx_type="swap")["data"]["items"]
    every = _get(client, "/trader/txs/seek_by_time", **params, tx_type="all")["data"]["items"]
    adds = _get(client, "/trader/txs/seek_by_time", **params, tx_type="add")["data"]["items"]
    assert {i["tx_type"] for i in swaps} == {"swap"} and {i["tx_type"] for i in adds} == {"add"}
    assert len(every) == len(swaps) + len(adds) and adds
    native = np.flatnonzero(tbl.native & (tbl.kind == 0))[0]
    item = market.render_swap(tbl, int(native), "x")
    assert NATIVE_SOL in (item["base"]["address"], item["quote"]["address"])


def test_multi_price_and_overview_are_camel_case(client: TestClient) -> None:
    token = _daily_tokens(client)[0]["address"]
    unknown = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
    got = client.get(
        "/defi/multi_price", params={"list_address": f"{token},{WSOL},{unknown}"}, headers=HEADERS
    ).json()
    posted = client.post(
        "/defi/multi_price", json={"list_address": f"{token},{WSOL},{unknown}"}, headers=HEADERS
    ).json()
    assert got == posted
    data = got["data"]
    assert data[unknown] is None
    assert set(data[token]) == {
        "isScaledUiToken",
        "value",
        "updateUnixTime",
        "updateHumanTime",
        "priceInNative",
        "priceChange24h",
    }
    assert 50 < data[WSOL]["value"] < 500
    overview = _get(client, "/defi/token_overview", address=token)["data"]
    for key in (
        "marketCap",
        "logoURI",
        "priceChange24hPercent",
        "v24hUSD",
        "uniqueWallet24h",
        "history24hPrice",
        "lastTradeUnixTime",
        "isScaledUiToken",
        "holder",
    ):
        assert key in overview, key
    assert overview["price"] == pytest.approx(data[token]["value"])
    assert _get(client, "/defi/token_overview", address=unknown)["data"] is None
    sol = _get(client, "/defi/token_overview", address=WSOL)["data"]
    assert sol["symbol"] == "SOL" and sol["price"] == pytest.approx(data[WSOL]["value"])
    listed = _get(client, "/defi/v3/token/list", sort_by="liquidity", limit=3)["data"]["items"]
    assert WSOL in {i["address"] for i in listed}  # quote assets are listed, never filtered in


def test_auth_and_limits(client: TestClient) -> None:
    for path in (
        "/defi/v3/token/list",
        "/defi/v3/token/holder",
        "/trader/txs/seek_by_time",
        "/defi/multi_price",
        "/defi/token_overview",
    ):
        r = client.get(path, params={"address": WSOL, "list_address": WSOL})
        assert r.status_code == 401 and r.json() == {"success": False, "message": "Unauthorized"}
    keyed = TestClient(create_app(SandboxConfig(seed=SEED, api_key="right")))
    assert keyed.get("/defi/v3/token/list", headers={"X-API-KEY": "wrong"}).status_code == 401
    assert keyed.get("/defi/v3/token/list", headers={"x-api-key": "right"}).status_code == 200
    bad = [
        ("/defi/v3/token/list", {"limit": 101}),
        ("/defi/v3/token/list", {"offset": 9950, "limit": 100}),
        ("/defi/v3/token/list", {"min_unknown_thing": 1}),
        ("/defi/v3/token/holder", {"address": "not-an-address"}),
        ("/trader/txs/seek_by_time", {"address": WSOL, "limit": 0}),
        ("/trader/txs/seek_by_time", {"address": WSOL, "offset": 9901, "limit": 100}),
        ("/trader/txs/seek_by_time", {"address": WSOL, "tx_type": "buy"}),
    ]
    for path, params in bad:
        r = client.get(path, params=params, headers=HEADERS)
        assert r.status_code == 400 and r.json()["success"] is False, (path, params)
    ok = client.get(
        "/trader/txs/seek_by_time",
        params={"address": WSOL, "offset": 9900, "limit": 100},
        headers=HEADERS,
    )
    assert ok.status_code == 200


def test_ui_amount_mode_and_strict_bounds(client: TestClient) -> None:
    wallet = _trader(client)
    params = {"address": wallet, "after_time": AT - 5 * DAY, "before_time": AT}
    raw = client.get(
        "/trader/txs/seek_by_time", params={**params, "ui_amount_mode": "raw"}, headers=HEADERS
    )
    scaled = client.get(
        "/trader/txs/seek_by_time", params={**params, "ui_amount_mode": "scaled"}, headers=HEADERS
    )
    assert raw.content == scaled.content
    strict = TestClient(create_app(SandboxConfig(seed=SEED, strict_time_bounds=True)))
    assert strict.get("/trader/txs/seek_by_time", params=params, headers=HEADERS).status_code == 422
    one = {"address": wallet, "after_time": AT - 5 * DAY}
    assert strict.get("/trader/txs/seek_by_time", params=one, headers=HEADERS).status_code == 200


def test_compute_units_and_rate_limit() -> None:
    cu = TestClient(create_app(SandboxConfig(seed=SEED, compute_units=150)))
    assert cu.get("/defi/v3/token/list", headers=HEADERS).status_code == 200
    r = cu.get("/defi/v3/token/list", headers=HEADERS)
    assert r.status_code == 400
    assert r.json() == {"success": False, "message": "Compute units usage limit exceeded"}
    rl = TestClient(create_app(SandboxConfig(seed=SEED, rate_limit_rps=0.5, rate_limit_burst=2)))
    codes = [
        rl.get("/defi/token_overview", params={"address": WSOL}, headers=HEADERS).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    r = rl.get("/defi/token_overview", params={"address": WSOL}, headers=HEADERS)
    assert r.json() == {"success": False, "message": "Too many requests"}
    assert int(r.headers["Retry-After"]) >= 1
    other = {**HEADERS, "X-API-KEY": "another-account"}
    assert (
        rl.get("/defi/token_overview", params={"address": WSOL}, headers=other).status_code == 200
    )


def test_request_log_records_every_request() -> None:
    app = create_app(SandboxConfig(seed=SEED))
    c = TestClient(app)
    c.get("/defi/v3/token/list", params={"limit": 7}, headers=HEADERS)
    c.get("/defi/v3/token/list")
    log = app.state.request_log
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", "/defi/v3/token/list", 200),
        ("GET", "/defi/v3/token/list", 401),
    ]
    assert log[0].params == {"limit": "7"} and log[0].at > 0


def test_as_of_clock_changes_holders_and_prices(client: TestClient) -> None:
    token = _daily_tokens(client)[0]["address"]
    now = client.get("/defi/v3/token/holder", params={"address": token}, headers=HEADERS).json()
    week_ago = client.get(
        "/defi/v3/token/holder",
        params={"address": token},
        headers={**HEADERS, "x-sandbox-as-of": str(AT - 7 * DAY)},
    ).json()
    assert now != week_ago


_SCRIPT = """
import hashlib, sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
from smart_trader.sandbox import SandboxConfig, create_app
c = TestClient(create_app(SandboxConfig(seed=7)))
h = {"X-API-KEY": "k", "x-sandbox-as-of": sys.argv[1]}
out = hashlib.sha256()
for path, params in __import__("json").loads(sys.argv[2]):
    out.update(c.get(path, params=params, headers=h).content)
print(out.hexdigest())
"""


def test_same_seed_gives_byte_identical_json_in_another_process(client: TestClient) -> None:
    token = _daily_tokens(client)[3]["address"]
    wallet = _trader(client)
    requests = [
        (
            "/trader/txs/seek_by_time",
            {"address": wallet, "before_time": AT, "after_time": AT - 8 * DAY},
        ),
        ("/defi/v3/token/holder", {"address": token}),
        ("/defi/v3/token/list", FILTERS),
        ("/defi/multi_price", {"list_address": f"{token},{WSOL}"}),
    ]
    # this process asks in reverse order, after other requests: the answers must not care
    digest = hashlib.sha256()
    bodies = {}
    for path, params in reversed(requests):
        bodies[path] = client.get(path, params=params, headers=HEADERS).content
    for path, _ in requests:
        digest.update(bodies[path])
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(AT), json.dumps(requests)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == digest.hexdigest()


def test_every_daily_token_has_a_hundred_on_curve_owners(client: TestClient) -> None:
    from solders.pubkey import Pubkey

    for token in _daily_tokens(client):
        owners: set[str] = set()
        for offset in (0, 100, 200):
            items = _get(client, "/defi/v3/token/holder", address=token["address"], offset=offset)[
                "data"
            ]["items"]
            owners |= {i["owner"] for i in items if Pubkey.from_string(i["owner"]).is_on_curve()}
        assert len(owners) >= 100, token["address"]
    assert FIRST_MEME == 3
