"""The base of the BirdEye and Helius clients: where requests go, the key, the retry policy.

Where a client's requests go (its Connection: the live API, a sandbox served over HTTP, or an app
mounted in process) is decided once, from the environment, when the definitions load, and given
to the client as a resource dependency, not as config. Run-time resource config (launchpad,
`--config-json`, a schedule) replaces a resource's configured values, the api_key from EnvVar
included; were the mode read from the key, any such config would silently switch a live
deployment to the sandbox. Instead a run whose key and connection disagree fails when its
resources start, before any request, naming why.
"""

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import dagster as dg
import httpx
from pydantic import Field

from smart_trader.resources.http import ApiSession, RetryPolicy
from smart_trader.resources.wire_stats import LogLike

# The sandbox takes any key; a live connection never sends this one (see check_mode).
SANDBOX_PLACEHOLDER_KEY = "sandbox"

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """Where a client's requests go. sandbox: the sandbox market answers (any day, as of the
    x-sandbox-as-of clock; rows are data_source `sandbox`). transport: an app mounted in
    process, made anew for each session; None: the network. description: what the sandbox is,
    logged when a session opens."""

    base_url: str
    sandbox: bool
    transport: Callable[[], httpx.AsyncBaseTransport] | None = None
    description: str | None = None


class ModeConflict(RuntimeError):
    """A client's key and connection disagree: live without a key, or the sandbox with one."""


class ApiClient(dg.ConfigurableResource):
    """An HTTP API client resource; subclasses name the service and add its calls."""

    service: ClassVar[str]
    key_variable: ClassVar[str]
    live_base_url: ClassVar[str]
    resource_key: ClassVar[str]

    connection: dg.ResourceDependency[Connection]
    api_key: str | None = Field(
        default=None, description="the API key; required when the connection is live"
    )
    max_retries: int = Field(default=6, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    backoff_initial_seconds: float = Field(default=0.25, ge=0)
    backoff_max_seconds: float = Field(default=10.0, ge=0)
    backoff_jitter_seconds: float = Field(default=0.5, ge=0)
    max_retry_after_seconds: float = Field(default=60.0, ge=0)

    @classmethod
    def from_env(cls, sandbox: Connection, **fields: Any) -> Self:
        """Live when the service's key variable is set (the key itself is read at run time,
        through EnvVar), else `sandbox`."""
        if os.environ.get(cls.key_variable):
            live = Connection(base_url=cls.live_base_url, sandbox=False)
            key: Any = dg.EnvVar(cls.key_variable)
            return cls(connection=live, api_key=key, **fields)
        return cls(connection=sandbox, **fields)

    @property
    def is_sandbox(self) -> bool:
        return self.connection.sandbox

    @property
    def is_live(self) -> bool:
        return not self.connection.sandbox

    @property
    def key(self) -> str:
        return self.api_key or SANDBOX_PLACEHOLDER_KEY

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.check_mode()

    def check_mode(self) -> None:
        """Refuse, before any request, a key and connection that disagree."""
        if self.is_live and not self.api_key:
            raise ModeConflict(
                f"{self.service} is live ({self.key_variable} was set when the definitions "
                f"loaded), but this run's config of resources.{self.resource_key} leaves "
                "api_key empty: run-time resource config replaces the configured values, the "
                "key included, and cannot switch a live deployment to the sandbox. Launch "
                f'without that config, or give it "api_key": {{"env": "{self.key_variable}"}}. '
                "Nothing was fetched."
            )
        if self.is_sandbox and os.environ.get(self.key_variable):
            where = self.connection.description or f"the sandbox at {self.connection.base_url}"
            raise ModeConflict(
                f"{self.service}: {self.key_variable} is set, so this deployment is live, but "
                f"these resources would use {where}: a live lake never gets sandbox data. Unset "
                f"{self.key_variable} for the sandbox, or use the default resources. Nothing "
                "was fetched."
            )

    def _new_session(
        self,
        log: LogLike | None,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        requests_per_second: float | None,
        max_concurrency: int,
        secrets: Iterable[str | None] = (),
    ) -> ApiSession:
        """A session on this client's connection, with its retry policy; secrets: besides the
        key, values redacted from every message."""
        self.check_mode()
        connection = self.connection
        if connection.sandbox and connection.description:
            (log or _logger).info(
                f"{self.service}: no API key ({self.key_variable}) set, using "
                f"{connection.description}"
            )
        return ApiSession(
            service=self.service,
            base_url=connection.base_url,
            transport=connection.transport() if connection.transport is not None else None,
            headers=headers,
            query=query,
            secrets=[self.api_key, *secrets],
            requests_per_second=requests_per_second,
            max_concurrency=max_concurrency,
            timeout_seconds=self.timeout_seconds,
            retry=RetryPolicy.of(self),
        )
