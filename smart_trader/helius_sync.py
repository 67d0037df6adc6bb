"""The webhook sync decision (DATA_CONTRACT.md monitoring/helius_sync_log), free of I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

# A sync does not follow a gold partition older than this.
MAX_GOLD_AGE = dt.timedelta(days=3)


def addresses_sha256(addresses: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(addresses)).encode()).hexdigest()


@dataclass(frozen=True)
class SyncPlan:
    """status: created, updated, unchanged, skipped_empty or skipped_stale."""

    status: str
    addresses: list[str]
    added: list[str]
    removed: list[str]


def plan_sync(
    wanted: list[str],
    current: list[str] | None,
    gold_day: dt.date,
    today: dt.date,
) -> SyncPlan:
    """What to do with the webhook, given the wanted list and the webhook's (None: no webhook)."""
    wanted = sorted(set(wanted))
    existing = sorted(set(current or []))
    if not wanted:
        return SyncPlan("skipped_empty", wanted, [], [])
    if today - gold_day > MAX_GOLD_AGE:
        return SyncPlan("skipped_stale", wanted, [], [])
    added = sorted(set(wanted) - set(existing))
    removed = sorted(set(existing) - set(wanted))
    if current is None:
        return SyncPlan("created", wanted, added, [])
    if added or removed:
        return SyncPlan("updated", wanted, added, removed)
    return SyncPlan("unchanged", wanted, [], [])
