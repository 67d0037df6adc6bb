"""Helius-shaped webhook CRUD, validation and persistence across processes."""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path

from smart_trader.sandbox import SandboxConfig, create_app
from smart_trader.settings import USDC, WSOL

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

KEY = {"api-key": "hk"}
BODY = {
    "webhookURL": "https://hooks.example.com/helius",
    "transactionTypes": ["SWAP"],
    "accountAddresses": [WSOL],
    "webhookType": "enhanced",
    "authHeader": "Bearer s3cr3t",
}


def _client(**kw: object) -> TestClient:
    return TestClient(create_app(SandboxConfig(seed=7, **kw)))  # type: ignore[arg-type]


def test_crud_round_trip() -> None:
    c = _client()
    created = c.post("/v0/webhooks", params=KEY, json=BODY)
    assert created.status_code == 200
    hook = created.json()
    assert uuid.UUID(hook["webhookID"]).version == 4
    assert {k: hook[k] for k in BODY} == BODY and hook["wallet"]
    assert c.get("/v0/webhooks", params=KEY).json() == [hook]
    assert c.get(f"/v0/webhooks/{hook['webhookID']}", params=KEY).json() == hook
    edited = c.put(
        f"/v0/webhooks/{hook['webhookID']}", params=KEY, json={"accountAddresses": [USDC, WSOL]}
    ).json()
    assert edited["accountAddresses"] == [USDC, WSOL]
    assert edited["webhookURL"] == BODY["webhookURL"]  # missing fields keep their value
    deleted = c.delete(f"/v0/webhooks/{hook['webhookID']}", params=KEY)
    assert deleted.status_code == 200 and deleted.content == b""
    assert c.get(f"/v0/webhooks/{hook['webhookID']}", params=KEY).status_code == 404
    assert c.delete(f"/v0/webhooks/{hook['webhookID']}", params=KEY).status_code == 404
    assert c.get("/v0/webhooks", params=KEY).json() == []


def test_auth_and_validation() -> None:
    c = _client(helius_api_key="hk", allow_loopback_webhooks=False)
    r = c.get("/v0/webhooks")
    assert r.status_code == 401 and isinstance(r.json()["error"], str)
    assert c.get("/v0/webhooks", params={"api-key": "other"}).status_code == 401
    bad = [
        {**BODY, "webhookURL": "http://hooks.example.com/x"},
        {**BODY, "webhookURL": "https://127.0.0.1:9/x"},
        {**BODY, "accountAddresses": ["nope"]},
        {**BODY, "accountAddresses": [WSOL] * 100_001},
        {**BODY, "transactionTypes": []},
        {**BODY, "webhookType": "weird"},
        {k: v for k, v in BODY.items() if k != "webhookURL"},
    ]
    for body in bad:
        r = c.post("/v0/webhooks", params=KEY, json=body)
        assert r.status_code == 400 and isinstance(r.json()["error"], str), body
    full = c.post("/v0/webhooks", params=KEY, json={**BODY, "accountAddresses": [WSOL] * 100_000})
    assert full.status_code == 200
    loop = _client().post(
        "/v0/webhooks", params=KEY, json={**BODY, "webhookURL": "http://127.0.0.1:8000/hook"}
    )
    assert loop.status_code == 200


def test_webhook_cap() -> None:
    c = _client(helius_max_webhooks=2)
    codes = [c.post("/v0/webhooks", params=KEY, json=BODY).status_code for _ in range(3)]
    assert codes == [200, 200, 400]


def test_state_file_is_shared_between_apps(tmp_path: Path) -> None:
    path = tmp_path / "state" / "helius.json"
    a, b = _client(helius_state_path=str(path)), _client(helius_state_path=str(path))
    hook = a.post("/v0/webhooks", params=KEY, json=BODY).json()
    assert path.exists()
    assert b.get(f"/v0/webhooks/{hook['webhookID']}", params=KEY).json() == hook
    b.delete(f"/v0/webhooks/{hook['webhookID']}", params=KEY)
    assert a.get("/v0/webhooks", params=KEY).json() == []
    assert not list(path.parent.glob(".webhooks-*"))  # temp files were renamed away


def test_swap_events_are_delivered_with_the_auth_header_and_retried() -> None:
    import asyncio
    from datetime import date

    import httpx

    from smart_trader.sandbox import day_end, get_market
    from smart_trader.sandbox.webhooks import deliver_swaps

    market = get_market(7)
    end = day_end(date(2025, 3, 10))
    start = end - 3 * 86_400
    wallets = [
        market.population.addresses[int(w)] for w in market.population.by_archetype["smart"][:20]
    ]
    app = create_app(SandboxConfig(seed=7))
    c = TestClient(app)
    c.post("/v0/webhooks", params=KEY, json={**BODY, "accountAddresses": wallets})
    c.post("/v0/webhooks", params=KEY, json={**BODY, "transactionTypes": ["TRANSFER"]})
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500 if len(received) == 1 else 200)

    async def run() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
            return await deliver_swaps(market, app.state.webhooks, start, end, client, 0.0)

    report = asyncio.run(run())
    expected: set[str] = set()
    for w in wallets:
        items = c.get(
            "/trader/txs/seek_by_time",
            headers={"X-API-KEY": "k", "x-sandbox-as-of": str(end)},
            params={"address": w, "after_time": start + 1, "before_time": end},
        ).json()["data"]["items"]
        expected |= {i["tx_hash"] for i in items}
    assert expected
    assert all(r.headers["Authorization"] == BODY["authHeader"] for r in received)
    delivered = [e for r in received[1:] for e in __import__("json").loads(r.content)]
    assert {e["signature"] for e in delivered} == expected
    assert all(e["type"] == "SWAP" and start < e["timestamp"] <= end for e in delivered)
    assert report.webhooks == 1 and report.failed_posts == 0  # type: ignore[attr-defined]
    assert report.attempts == report.posts + 1  # type: ignore[attr-defined]
    bad = c.post("/sandbox/helius/deliver", params=KEY, json={"start": "x"})
    assert bad.status_code == 400 and "error" in bad.json()
