"""The swap fetch rule of DATA_CONTRACT.md (transaction_history), by hand-computed cases."""

from __future__ import annotations

import datetime as dt

import polars as pl

from smart_trader.days import day_start
from smart_trader.ingest.fetch_plan import swap_fetch_ranges, tracked_wallets

D = dt.date(2026, 3, 31)


def holders(rows: list[tuple[str, int]]) -> pl.DataFrame:
    """(wallet, days before D) → whale_holders rows."""
    return pl.DataFrame(
        {
            "snapshot_date": [D - dt.timedelta(days=back) for _, back in rows],
            "wallet_address": [wallet for wallet, _ in rows],
        }
    )


def starts(frame: pl.DataFrame) -> dict[str, dt.date]:
    return {w: s.date() for w, s in frame.iter_rows()}


def test_tracked_wallets_are_the_holders_of_the_last_tracking_days() -> None:
    frame = holders([("a", 0), ("b", 6), ("c", 7), ("a", 3)])
    assert tracked_wallets(frame, D, 7).get_column("wallet_address").to_list() == ["a", "b"]


def test_fetch_ranges_follow_the_latest_tracked_day_before_d() -> None:
    frame = holders(
        [
            ("new", 0),  # never tracked before D: the whole lookback window
            ("daily", 0),
            ("daily", 1),  # tracked on D−1: only day D
            ("gap", 0),
            ("gap", 10),  # tracked until D−4 by that snapshot: from D−3
            ("edge", 0),
            ("edge", 35),  # tracked on D−29 (the window's first day) only: from D−28
            ("old", 0),
            ("old", 36),  # tracked on D−30 at the latest: outside the window
            ("recent", 3),  # not a holder on D, still tracked on D: D−1 was tracked
            ("gone", 7),  # not tracked on D: no fetch at all
        ]
    )
    ranges = swap_fetch_ranges(frame, D, lookback_days=30, tracking_days=7)
    assert ranges.schema["start"] == pl.Datetime("us", "UTC")
    assert starts(ranges) == {
        "daily": D,
        "edge": D - dt.timedelta(days=28),
        "gap": D - dt.timedelta(days=3),
        "new": D - dt.timedelta(days=29),
        "old": D - dt.timedelta(days=29),
        "recent": D,
    }


def test_a_wallet_tracked_every_day_is_fetched_one_day_at_a_time() -> None:
    frame = holders([("w", back) for back in range(40)])
    for back in range(3):
        day = D - dt.timedelta(days=back)
        ranges = swap_fetch_ranges(frame.filter(pl.col("snapshot_date") <= day), day, 30, 7)
        assert ranges.row(0) == ("w", day_start(day))


def test_consecutive_days_cover_the_window_without_overlap() -> None:
    """Tracked on D and D+1: D+1 starts where D's range ended, so no swap is fetched twice."""
    frame = holders([("w", 0), ("w", -1)])
    first = starts(swap_fetch_ranges(frame, D, 30, 7))["w"]
    second = starts(swap_fetch_ranges(frame, D + dt.timedelta(days=1), 30, 7))["w"]
    assert first == D - dt.timedelta(days=29)
    assert second == D + dt.timedelta(days=1)
