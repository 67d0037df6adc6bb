"""Helius-shaped webhook management: `/v0/webhooks[/{id}]` (external-apis.md §3).

Webhooks live in memory, or in a JSON file when `helius_state_path` is set (written through a
temp file and an atomic rename, re-read on every request) so separate processes share them.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from solders.pubkey import Pubkey
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smart_trader.sandbox.errors import ApiError, json_response

if TYPE_CHECKING:
    from smart_trader.sandbox.app import Gate

MAX_ADDRESSES = 100_000
WEBHOOK_TYPES = ("enhanced", "raw", "discord", "enhancedDevnet", "rawDevnet", "discordDevnet")
TXN_STATUSES = ("all", "success", "failed")
_TX_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_FIELDS = (
    "webhookURL",
    "transactionTypes",
    "accountAddresses",
    "webhookType",
    "authHeader",
    "txnStatus",
    "encoding",
)


class WebhookStore:
    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def load(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return dict(self._memory)
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {h["webhookID"]: h for h in data.get("webhooks", [])}

    def save(self, hooks: dict[str, dict[str, Any]]) -> None:
        if self.path is None:
            self._memory = dict(hooks)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".webhooks-", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump({"webhooks": list(hooks.values())}, fh, indent=1)
        os.replace(tmp, self.path)

    def modify(self, change: Callable[[dict[str, dict[str, Any]]], Any]) -> Any:
        with self._lock:
            hooks = self.load()
            result = change(hooks)
            self.save(hooks)
            return result


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _validate(body: Any, allow_loopback: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid request body")
    url = body.get("webhookURL")
    if not isinstance(url, str) or not url:
        raise ApiError(400, "webhookURL is required")
    parts = urlsplit(url)
    host = parts.hostname or ""
    loopback_ok = allow_loopback and _is_loopback(host) and parts.scheme in ("http", "https")
    if not loopback_ok and (parts.scheme != "https" or not host or _is_loopback(host)):
        raise ApiError(400, "webhookURL must be a public https URL")
    types = body.get("transactionTypes")
    if not isinstance(types, list) or not types:
        raise ApiError(400, "transactionTypes is required")
    if not all(isinstance(t, str) and _TX_TYPE.match(t) for t in types):
        raise ApiError(400, "transactionTypes contains an invalid transaction type")
    addresses = body.get("accountAddresses")
    if not isinstance(addresses, list):
        raise ApiError(400, "accountAddresses is required")
    if len(addresses) > MAX_ADDRESSES:
        raise ApiError(400, "a single webhook cannot contain more than 100,000 addresses")
    for a in addresses:
        try:
            Pubkey.from_string(a)
        except (ValueError, TypeError):
            raise ApiError(400, f"invalid account address: {a!r}") from None
    kind = body.get("webhookType", "enhanced")
    if kind not in WEBHOOK_TYPES:
        raise ApiError(400, "webhookType is invalid")
    status = body.get("txnStatus", "all")
    if status not in TXN_STATUSES:
        raise ApiError(400, "txnStatus is invalid")
    auth = body.get("authHeader", "")
    if not isinstance(auth, str):
        raise ApiError(400, "authHeader must be a string")
    encoding = body.get("encoding", "jsonParsed")
    if not isinstance(encoding, str):
        raise ApiError(400, "encoding must be a string")
    return {
        "webhookURL": url,
        "transactionTypes": list(types),
        "accountAddresses": list(addresses),
        "webhookType": kind,
        "authHeader": auth,
        "txnStatus": status,
        "encoding": encoding,
    }


HeliusHandler = Callable[[Request, str], Awaitable[Response]]


def helius_guard(gate: Gate, handler: HeliusHandler) -> Callable[[Request], Awaitable[Response]]:
    """api-key check (401 `{"error": ...}`), ApiError rendering and the request log."""
    config = gate.config

    async def route(request: Request) -> Response:
        status = 500
        try:
            key = request.query_params.get("api-key", "")
            if not key or (config.helius_api_key is not None and key != config.helius_api_key):
                response = json_response({"error": "Unauthorized"}, 401)
            else:
                try:
                    response = await handler(request, key)
                except ApiError as exc:
                    response = json_response({"error": exc.message}, exc.status)
            status = response.status_code
            return response
        finally:
            gate.log(request, status)

    return route


def routes(gate: Gate) -> list[Route]:
    config = gate.config
    store = gate.webhooks

    guarded = functools.partial(helius_guard, gate)

    def wallet_of(key: str) -> str:
        return str(Pubkey(hashlib.sha256(f"helius:{key}".encode()).digest()))

    async def body_of(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except json.JSONDecodeError:
            raise ApiError(400, "invalid JSON body") from None

    async def collection(request: Request, key: str) -> Response:
        if request.method == "GET":
            return json_response(list(store.load().values()))
        fields = _validate(await body_of(request), config.allow_loopback_webhooks)

        def create(hooks: dict[str, dict[str, Any]]) -> dict[str, Any]:
            if len(hooks) >= config.helius_max_webhooks:
                raise ApiError(400, "webhook limit reached for your plan")
            hook = {"webhookID": str(uuid.uuid4()), "wallet": wallet_of(key), **fields}
            hooks[hook["webhookID"]] = hook
            return hook

        return json_response(store.modify(create))

    async def item(request: Request, key: str) -> Response:
        hook_id = request.path_params["webhook_id"]
        if request.method == "GET":
            hook = store.load().get(hook_id)
            if hook is None:
                raise ApiError(404, "webhook not found")
            return json_response(hook)
        if request.method == "DELETE":

            def delete(hooks: dict[str, dict[str, Any]]) -> None:
                if hooks.pop(hook_id, None) is None:
                    raise ApiError(404, "webhook not found")

            store.modify(delete)
            return Response(b"", status_code=200)
        body = await body_of(request)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid request body")

        def edit(hooks: dict[str, dict[str, Any]]) -> dict[str, Any]:
            old = hooks.get(hook_id)
            if old is None:
                raise ApiError(404, "webhook not found")
            # PUT replaces the webhook; fields the body leaves out keep their stored value
            merged = {f: body[f] if f in body else old[f] for f in _FIELDS}
            hook = {**old, **_validate(merged, config.allow_loopback_webhooks)}
            hooks[hook_id] = hook
            return hook

        return json_response(store.modify(edit))

    return [
        Route("/v0/webhooks", guarded(collection), methods=["GET", "POST"]),
        Route("/v0/webhooks/{webhook_id}", guarded(item), methods=["GET", "PUT", "DELETE"]),
    ]
