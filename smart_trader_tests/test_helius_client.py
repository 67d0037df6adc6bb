"""HeliusClient against a scripted Helius (httpx.MockTransport): the webhook calls, full-replace
edits, both error shapes, retries, and the api-key never leaking (it travels in the URL)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from smart_trader.receiver.parse import WEBHOOK_TRANSACTION_TYPES
from smart_trader.resources.api_client import Connection
from smart_trader.resources.api_errors import RequestRejected, RetriesExhausted
from smart_trader.resources.helius import HeliusClient, Webhook
from smart_trader.resources.redaction import redact

KEY = "hel-SECRET-0123456789"
URL = "https://hooks.example.com/helius"


@dataclass
class FakeHelius:
    hooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[httpx.Request] = field(default_factory=list)
    fault: Callable[[httpx.Request], httpx.Response | None] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request)
        if self.fault is not None and (injected := self.fault(request)) is not None:
            return injected
        if request.url.params.get("api-key") != KEY:
            return httpx.Response(401, json={"error": "invalid api key"})
        parts = request.url.path.strip("/").split("/")
        if parts[:2] != ["v0", "webhooks"]:
            return httpx.Response(400, json={"error": "invalid path"})
        hook_id = parts[2] if len(parts) > 2 else None
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        if request.method == "POST" and hook_id is None:
            new_id = str(uuid.uuid4())
            self.hooks[new_id] = {"webhookID": new_id, "wallet": "W", **body}
            return httpx.Response(200, json=self.hooks[new_id])
        if request.method == "GET" and hook_id is None:
            return httpx.Response(200, json=list(self.hooks.values()))
        if hook_id not in self.hooks:
            return httpx.Response(404, json={"error": "webhook not found"})
        if request.method == "GET":
            return httpx.Response(200, json=self.hooks[hook_id])
        if request.method == "PUT":
            self.hooks[hook_id] = {"webhookID": hook_id, "wallet": "W", **body}
            return httpx.Response(200, json=self.hooks[hook_id])
        if request.method == "DELETE":
            del self.hooks[hook_id]
            return httpx.Response(200)
        return httpx.Response(405, json={"error": "method not allowed"})


def client_for(monkeypatch: pytest.MonkeyPatch, fake: FakeHelius, **fields: Any) -> HeliusClient:
    connection = Connection(
        base_url="https://helius.test", sandbox=False, transport=lambda: httpx.MockTransport(fake)
    )
    defaults: dict[str, Any] = {
        "connection": connection,
        "api_key": KEY,
        "webhook_url": URL,
        "auth_header": "Bearer hook-secret",
        "requests_per_second": 1000.0,
        "backoff_initial_seconds": 0.001,
        "backoff_max_seconds": 0.01,
        "backoff_jitter_seconds": 0.001,
        "max_retries": 3,
    }
    return HeliusClient(**{**defaults, **fields})


def test_webhook_lifecycle(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHelius()
    client = client_for(monkeypatch, fake)
    assert client.find_webhook_for_url() is None
    created = client.create_webhook(["A", "B", "A"])
    assert created.account_addresses == ("A", "B") and created.webhook_url == URL
    create_body = json.loads(fake.log[-1].content)
    assert create_body == {
        "webhookURL": URL,
        "transactionTypes": list(WEBHOOK_TRANSACTION_TYPES),
        "accountAddresses": ["A", "B"],
        "webhookType": "enhanced",
        "authHeader": "Bearer hook-secret",
    }
    assert client.find_webhook_for_url(URL) == created
    assert client.get_webhook(created.webhook_id) == created

    fake.hooks[created.webhook_id]["txnStatus"] = "success"  # a field we never set ourselves
    edited = client.edit_webhook(created.webhook_id, ["C"])
    get, put = fake.log[-2:]
    assert (get.method, put.method) == ("GET", "PUT")
    assert json.loads(put.content) == {
        "webhookURL": URL,
        "transactionTypes": list(WEBHOOK_TRANSACTION_TYPES),
        "accountAddresses": ["C"],
        "webhookType": "enhanced",
        "authHeader": "Bearer hook-secret",
        "txnStatus": "success",
    }  # full replace: every field sent back
    assert edited.account_addresses == ("C",) and edited.txn_status == "success"
    assert [w.webhook_id for w in client.list_webhooks()] == [created.webhook_id]
    client.delete_webhook(created.webhook_id)
    assert client.list_webhooks() == []
    assert all(r.url.params["api-key"] == KEY for r in fake.log)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(401, json={"error": "invalid api key"}), "HTTP 401: invalid api key"),
        (
            httpx.Response(400, json={"error": {"code": -32602, "message": "Invalid params"}}),
            "HTTP 400: Invalid params (code -32602)",
        ),
        (
            httpx.Response(200, json={"error": {"code": -32602, "message": "Invalid params"}}),
            "HTTP 200: Invalid params (code -32602)",
        ),
        (httpx.Response(200, json={"error": "quota"}), "HTTP 200: quota"),
    ],
)
def test_error_bodies_are_clear_and_not_retried(
    monkeypatch: pytest.MonkeyPatch, response: httpx.Response, expected: str
) -> None:
    fake = FakeHelius(fault=lambda r: response)
    with pytest.raises(RequestRejected) as info:
        client_for(monkeypatch, fake).list_webhooks()
    assert str(info.value) == f"Helius /v0/webhooks: {expected}"
    assert len(fake.log) == 1


def test_unknown_webhook_names_the_route(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RequestRejected, match=r"/v0/webhooks/\{webhookID\}: HTTP 404"):
        client_for(monkeypatch, FakeHelius()).get_webhook("nope")


def test_retries_and_create_is_not_repeated_after_5xx(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response | None:
        calls["n"] += 1
        return httpx.Response(502, text="bad gateway") if calls["n"] <= 2 else None

    fake = FakeHelius(fault=flaky)
    assert client_for(monkeypatch, fake).list_webhooks() == []  # GET: retried
    calls["n"] = 0
    with pytest.raises(RetriesExhausted, match=r"HTTP 502: bad gateway \(not retried"):
        client_for(monkeypatch, fake).create_webhook(["A"])
    assert calls["n"] == 1 and fake.hooks == {}  # POST: the server may have acted, not resent

    posts: list[httpx.Request] = []

    def first_post_429(request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST":
            return None
        posts.append(request)
        return httpx.Response(429, headers={"Retry-After": "0"}) if len(posts) == 1 else None

    fake.fault = first_post_429
    assert client_for(monkeypatch, fake).create_webhook(["A"]).account_addresses == ("A",)
    assert len(posts) == 2 and len(fake.hooks) == 1  # a 429 means not processed: resent


def test_too_many_addresses_is_refused_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHelius()
    with pytest.raises(ValueError, match="more than 100,000 addresses"):
        client_for(monkeypatch, fake).create_webhook([str(i) for i in range(100_001)])
    assert fake.log == []


def test_api_key_never_leaks(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused for {request.url}", request=request)

    caplog.set_level(logging.DEBUG)
    with pytest.raises(RetriesExhausted) as info:
        client_for(monkeypatch, FakeHelius(fault=broken)).list_webhooks()
    text = str(info.value)
    assert "ConnectError" in text and "api-key=***" in text and KEY not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    echo = FakeHelius(fault=lambda r: httpx.Response(400, json={"error": f"bad key {KEY}"}))
    with pytest.raises(RequestRejected) as info2:
        client_for(monkeypatch, echo).list_webhooks()
    assert KEY not in str(info2.value) and "***" in str(info2.value)
    client_for(monkeypatch, FakeHelius()).list_webhooks()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request" in logged and KEY not in logged  # httpx's own request log line


def test_redact_covers_keys_in_urls_and_headers() -> None:
    assert redact("GET https://x/v0/webhooks?api-key=abc&x=1") == (
        "GET https://x/v0/webhooks?api-key=***&x=1"
    )
    assert redact("{'X-API-KEY': 'k123'}") == "{'X-API-KEY': '***'}"
    assert redact("key is s3cr3t!", ["s3cr3t!"]) == "key is ***"


def test_webhook_parses_api_shape() -> None:
    hook = Webhook.from_api(
        {
            "webhookID": "e5cfedfa-5a91-46f0-bd6b-881ae8f6e0bd",
            "wallet": "Vx",
            "webhookURL": URL,
            "transactionTypes": ["SWAP"],
            "accountAddresses": ["A"],
            "webhookType": "enhanced",
            "authHeader": "Bearer s3cr3t",
            "txnStatus": "success",
        }
    )
    assert hook.request_body()["txnStatus"] == "success" and hook.wallet == "Vx"


def test_an_edit_sets_the_configured_types_and_auth_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """A webhook made before the receiver existed (SWAP only, no secret) is brought up to date
    by the sync's next edit: the receiver refuses deliveries without the secret."""
    fake = FakeHelius()
    client = client_for(monkeypatch, fake)
    created = client.create_webhook(["A"], transaction_types=["SWAP"], auth_header="")
    assert json.loads(fake.log[-1].content)["authHeader"] == ""
    client.edit_webhook(created.webhook_id, ["A", "B"])
    put = json.loads(fake.log[-1].content)
    assert put["transactionTypes"] == list(WEBHOOK_TRANSACTION_TYPES)
    assert put["authHeader"] == "Bearer hook-secret"
