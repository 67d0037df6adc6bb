"""The webhook sync decision: create, update only on change, never empty, never stale."""

from __future__ import annotations

import datetime as dt

from smart_trader.helius_sync import addresses_sha256, plan_sync

TODAY = dt.date(2026, 3, 20)


def test_creates_when_no_webhook_exists() -> None:
    plan = plan_sync(["b", "a"], None, TODAY, TODAY)
    assert (plan.status, plan.addresses, plan.added, plan.removed) == (
        "created",
        ["a", "b"],
        ["a", "b"],
        [],
    )


def test_updates_only_when_the_set_changed() -> None:
    assert plan_sync(["a", "b"], ["b", "a"], TODAY, TODAY).status == "unchanged"
    plan = plan_sync(["a", "c"], ["a", "b"], TODAY, TODAY)
    assert (plan.status, plan.added, plan.removed) == ("updated", ["c"], ["b"])


def test_never_replaces_the_list_with_an_empty_one() -> None:
    assert plan_sync([], ["a"], TODAY, TODAY).status == "skipped_empty"
    assert plan_sync([], None, TODAY, TODAY).status == "skipped_empty"


def test_does_not_follow_gold_older_than_three_days() -> None:
    assert plan_sync(["a"], None, TODAY - dt.timedelta(days=3), TODAY).status == "created"
    assert plan_sync(["a"], None, TODAY - dt.timedelta(days=4), TODAY).status == "skipped_stale"


def test_hash_is_of_the_sorted_list() -> None:
    assert addresses_sha256(["b", "a"]) == addresses_sha256(["a", "b"])
    assert addresses_sha256(["a"]) != addresses_sha256(["a", "b"])
