"""Secrets never leave the clients: every message, log line and error is redacted."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "***"
# Query parameters and headers that carry credentials in either API.
_SECRET_PATTERN = re.compile(
    r"(?i)((?:api[-_]key|x-api-key|apikey|token)[\"']?\s*[=:]\s*[\"']?)([^&\s\"',}]+)"
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """The text with every known secret and every api-key-looking value replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)


class _RedactingFilter(logging.Filter):
    """httpx logs full request URLs at INFO; Helius puts its key in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_RedactingFilter())
