"""UTC days: where a day starts, and the windows of days the contract speaks of.

Every "[D − (N − 1), D]" of the data contract is `window_first(D, N)` .. D, written once here.
"""

from __future__ import annotations

import datetime as dt


def day_start(day: dt.date) -> dt.datetime:
    """00:00 UTC of `day`: the inclusive start of daily partition D."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def window_first(day: dt.date, days: int) -> dt.date:
    """The first day of the `days`-day window ending on `day`: D − (days − 1)."""
    return day - dt.timedelta(days=days - 1)


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from `first` to `last`, both included."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def window_days(day: dt.date, days: int) -> list[dt.date]:
    """The days [D − (days − 1), D], oldest first."""
    return days_between(window_first(day, days), day)
