"""The errors of an API request, and the human part of an error body they quote."""

from __future__ import annotations

import json

COMPUTE_UNITS_MESSAGE = "Compute units usage limit exceeded"
_DETAIL_CHARS = 300


class ApiError(Exception):
    """A request failed; the message names the service, endpoint and status, never a key, and
    what was being fetched when the caller said (`subject`: a wallet and its time range...)."""

    def __init__(
        self,
        service: str,
        endpoint: str,
        status: int | None,
        detail: str,
        subject: str | None = None,
    ) -> None:
        self.service = service
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        self.subject = subject
        where = f"{service} {endpoint}"
        status_text = f"HTTP {status}" if status is not None else "no response"
        fetching = f"; fetching {subject}" if subject else ""
        super().__init__(f"{where}: {status_text}: {detail}{fetching}")


class RequestRejected(ApiError):
    """The server refused the request on its merits (4xx other than 408/429); not retried."""


class ComputeUnitsExhausted(RequestRejected):
    """BirdEye's compute-unit quota is used up (HTTP 400); retrying cannot help until it resets."""


class InvalidResponse(ApiError):
    """The answer was not what the API promises (not JSON, truncated, wrong envelope)."""


class RetriesExhausted(ApiError):
    """429s, 5xx answers or timeouts went on past the retry budget."""


class BodyInvalid(Exception):
    """Raised by a response parser: the body is not the promised shape (retried)."""


class BodyRefused(Exception):
    """Raised by a response parser: a 2xx body carries an error (final, not retried)."""


def error_detail(body: bytes) -> str:
    """The human part of an error body: BirdEye `message`, Helius `error` (string or object)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:_DETAIL_CHARS].decode("utf-8", "replace").strip() or "empty body"
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            code = error.get("code")
            text = f"{message}" + (f" (code {code})" if code is not None else "")
            return text[:_DETAIL_CHARS]
        if isinstance(error, str):
            return error[:_DETAIL_CHARS]
        message = parsed.get("message")
        if isinstance(message, str):
            return message[:_DETAIL_CHARS]
    return json.dumps(parsed)[:_DETAIL_CHARS]
