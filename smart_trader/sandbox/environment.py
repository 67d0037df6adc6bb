"""The sandbox's SMART_TRADER_SANDBOX_* variables, checked when the definitions load.

A bad value fails there, naming the variable, instead of at the first step of a run (a bare
int() error) or as a "transient" error retried seven times (an unusable URL).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from smart_trader.sandbox.faults import FaultConfig
from smart_trader.sandbox.size import SizeError, size_from_env
from smart_trader.settings import SettingsError

SEED = "SMART_TRADER_SANDBOX_SEED"
FAULTS = "SMART_TRADER_SANDBOX_FAULTS"
URL = "SMART_TRADER_SANDBOX_URL"
STATE_DIR = "SMART_TRADER_SANDBOX_STATE_DIR"


def check_sandbox_environment(env: Mapping[str, str], default_state_dir: str) -> None:
    """Raise SettingsError naming the first sandbox variable whose value cannot work.

    The state folder is only needed by the in-process sandbox's Helius (no HELIUS_API_KEY,
    no served sandbox), so only then must it be writable.
    """
    if (seed := env.get(SEED)) is not None and not (seed.isascii() and seed.isdigit()):
        raise SettingsError(f"invalid setting: {SEED}: {seed!r} is not an integer ≥ 0")
    try:
        FaultConfig.parse(env.get(FAULTS))
    except ValueError as exc:
        raise SettingsError(f"invalid setting: {FAULTS}: {exc}") from None
    try:
        size_from_env(env)  # the market size: SMART_TRADER_SANDBOX_TOKENS, ...
    except SizeError as exc:
        raise SettingsError(f"invalid setting: {exc}") from None
    if url := env.get(URL):
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise SettingsError(f"invalid setting: {URL}: {url!r} is not an http(s)://host URL")
    if not env.get("HELIUS_API_KEY") and not url:
        _check_writable(Path(env.get(STATE_DIR) or default_state_dir))


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise SettingsError(
            f"invalid setting: {STATE_DIR}: {str(folder)!r} is not a writable folder ({exc})"
        ) from None
