"""How much the tracked tokens moved since the day's token_metrics (the intraday sensor's rule)."""

from __future__ import annotations

from collections.abc import Set


def changed_share(now: Set[str], then: Set[str]) -> float:
    """Share of the tracked tokens that changed: tokens in one list but not the other, over the
    larger list (0 when both are empty, 1 when they have nothing in common)."""
    larger = max(len(now), len(then))
    return len(now ^ then) / (2 * larger) if larger else 0.0
