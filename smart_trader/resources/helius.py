"""Helius webhooks client: create, list, get, edit (full replace), delete, find by URL.

Helius authenticates with an `api-key` query parameter, so the key is part of every request URL:
it is redacted from every error message and log line (resources/redaction.py). Where the
requests go (live Helius or the sandbox's Helius routes) is the client's connection
(resources.api_client).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from smart_trader.receiver.parse import WEBHOOK_TRANSACTION_TYPES
from smart_trader.resources.api_client import ApiClient
from smart_trader.resources.api_errors import BodyInvalid, BodyRefused
from smart_trader.resources.http import run_sync
from smart_trader.resources.wire_stats import LogLike

MAX_ADDRESSES = 100_000  # per webhook, via the API
WEBHOOKS = "/v0/webhooks"
WEBHOOK = "/v0/webhooks/{webhookID}"


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    webhook_url: str
    transaction_types: tuple[str, ...]
    account_addresses: tuple[str, ...]
    webhook_type: str
    auth_header: str | None = None
    wallet: str | None = None
    txn_status: str | None = None
    encoding: str | None = None

    @classmethod
    def from_api(cls, body: Any) -> Webhook:
        if not isinstance(body, dict):
            raise BodyInvalid("a webhook is not a JSON object")
        try:
            return cls(
                webhook_id=_str(body, "webhookID"),
                webhook_url=_str(body, "webhookURL"),
                transaction_types=_str_list(body, "transactionTypes"),
                account_addresses=_str_list(body, "accountAddresses"),
                webhook_type=_str(body, "webhookType"),
                auth_header=body.get("authHeader"),
                wallet=body.get("wallet"),
                txn_status=body.get("txnStatus"),
                encoding=body.get("encoding"),
            )
        except (KeyError, TypeError) as exc:
            raise BodyInvalid(f"webhook field {exc}") from None

    def request_body(self) -> dict[str, Any]:
        """Every field of CreateWebhookRequest, for create and for a full-replace PUT."""
        body: dict[str, Any] = {
            "webhookURL": self.webhook_url,
            "transactionTypes": list(self.transaction_types),
            "accountAddresses": list(self.account_addresses),
            "webhookType": self.webhook_type,
        }
        optional = {
            "authHeader": self.auth_header,
            "txnStatus": self.txn_status,
            "encoding": self.encoding,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


def _str(body: dict[str, Any], name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value


def _str_list(body: dict[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} is not a list of strings")
    return tuple(value)


def _refuse_error(body: Any) -> None:
    """Helius reports errors as {"error": "..."} or {"error": {code, message}}, even in a 200."""
    if isinstance(body, dict) and body.get("error") is not None:
        error = body["error"]
        if isinstance(error, dict):
            code = error.get("code")
            text = f"{error.get('message')}" + (f" (code {code})" if code is not None else "")
        else:
            text = str(error)
        raise BodyRefused(text[:300])


def _webhook(body: Any) -> Webhook:
    _refuse_error(body)
    return Webhook.from_api(body)


def _webhook_list(body: Any) -> list[Webhook]:
    _refuse_error(body)
    if not isinstance(body, list):
        raise BodyInvalid("the webhook list is not a JSON array")
    return [Webhook.from_api(item) for item in body]


def _deleted(body: Any) -> None:
    _refuse_error(body)


class HeliusClient(ApiClient):
    """Helius webhook management over httpx (retries on 429/5xx, key redacted everywhere)."""

    service = "Helius"
    key_variable = "HELIUS_API_KEY"
    live_base_url = "https://api.helius.xyz"
    resource_key = "helius"

    webhook_url: str | None = Field(default=None, description="where Helius delivers events")
    auth_header: str | None = Field(
        default=None, description="sent back verbatim as Authorization on every delivery"
    )
    requests_per_second: float = Field(default=2.0, gt=0, description="Free plan: 2/s")
    max_retries: int = Field(default=5, ge=0)
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    # The types trades arrive as; the receiver reads transfers, not the type (receiver.parse).
    transaction_types: list[str] = Field(default_factory=lambda: list(WEBHOOK_TRANSACTION_TYPES))
    webhook_type: str = Field(default="enhanced")

    async def _call(
        self,
        method: str,
        endpoint: str,
        parse: Any,
        *,
        path: str | None = None,
        body: Any = None,
        idempotent: bool = True,
    ) -> Any:
        session = self._new_session(
            None,
            headers={"accept": "application/json"},
            query={"api-key": self.key},
            requests_per_second=self.requests_per_second,
            max_concurrency=4,
            secrets=[self.auth_header],
        )
        async with session:
            return await session.request(
                method,
                endpoint,
                parse,
                path=path,
                json_body=body,
                idempotent=idempotent,
                empty_ok=method == "DELETE",
            )

    def list_webhooks(self, log: LogLike | None = None) -> list[Webhook]:
        webhooks: list[Webhook] = run_sync(lambda: self._call("GET", WEBHOOKS, _webhook_list))
        if log is not None:
            log.info(f"Helius: {len(webhooks)} webhooks")
        return webhooks

    def get_webhook(self, webhook_id: str) -> Webhook:
        path = f"{WEBHOOKS}/{webhook_id}"
        webhook: Webhook = run_sync(lambda: self._call("GET", WEBHOOK, _webhook, path=path))
        return webhook

    def create_webhook(
        self,
        account_addresses: Sequence[str],
        *,
        webhook_url: str | None = None,
        transaction_types: Sequence[str] | None = None,
        webhook_type: str | None = None,
        auth_header: str | None = None,
    ) -> Webhook:
        """Create a webhook; defaults come from the resource's configuration.

        Not retried after a 5xx or timeout (the server may have created it); callers look it
        up with find_webhook_for_url before creating.
        """
        url = webhook_url or self.webhook_url
        if not url:
            raise ValueError("Helius create_webhook: no webhook_url configured or given")
        wanted = Webhook(
            webhook_id="",
            webhook_url=url,
            transaction_types=tuple(transaction_types or self.transaction_types),
            account_addresses=_checked_addresses(account_addresses),
            webhook_type=webhook_type or self.webhook_type,
            auth_header=auth_header if auth_header is not None else self.auth_header,
        )
        created: Webhook = run_sync(
            lambda: self._call(
                "POST", WEBHOOKS, _webhook, body=wanted.request_body(), idempotent=False
            )
        )
        return created

    def edit_webhook(
        self,
        webhook_id: str,
        account_addresses: Sequence[str] | None = None,
        *,
        webhook_url: str | None = None,
        transaction_types: Sequence[str] | None = None,
        webhook_type: str | None = None,
        auth_header: str | None = None,
    ) -> Webhook:
        """Full replace: read the webhook, change the given fields, PUT every field back."""
        current = self.get_webhook(webhook_id)
        edited = Webhook(
            webhook_id=webhook_id,
            webhook_url=webhook_url or current.webhook_url,
            # The configured types and secret win: an edit by the sync brings them up to date.
            transaction_types=tuple(transaction_types or self.transaction_types),
            account_addresses=(
                current.account_addresses
                if account_addresses is None
                else _checked_addresses(account_addresses)
            ),
            webhook_type=webhook_type or current.webhook_type,
            auth_header=next(
                (a for a in (auth_header, self.auth_header) if a is not None), current.auth_header
            ),
            txn_status=current.txn_status,
            encoding=current.encoding,
        )
        path = f"{WEBHOOKS}/{webhook_id}"
        result: Webhook = run_sync(
            lambda: self._call("PUT", WEBHOOK, _webhook, path=path, body=edited.request_body())
        )
        return result

    def delete_webhook(self, webhook_id: str) -> None:
        path = f"{WEBHOOKS}/{webhook_id}"
        run_sync(lambda: self._call("DELETE", WEBHOOK, _deleted, path=path))

    def find_webhook_for_url(self, url: str | None = None) -> Webhook | None:
        """The webhook delivering to `url` (default: the configured webhook_url), if any."""
        target = url or self.webhook_url
        if not target:
            raise ValueError("Helius find_webhook_for_url: no url given or configured")
        matches = [w for w in self.list_webhooks() if w.webhook_url == target]
        return min(matches, key=lambda w: w.webhook_id) if matches else None


def _checked_addresses(addresses: Sequence[str]) -> tuple[str, ...]:
    if isinstance(addresses, str):
        raise TypeError("account_addresses must be a sequence of addresses, not one string")
    unique = tuple(dict.fromkeys(addresses))
    if len(unique) > MAX_ADDRESSES:
        raise ValueError(
            f"a single webhook cannot contain more than {MAX_ADDRESSES:,} addresses "
            f"(got {len(unique):,})"
        )
    return unique
