"""When a URL is checked next (DESIGN.md §6). Pure functions; every interval scales."""
from __future__ import annotations

from datetime import datetime, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# After the report: +1 h, +6 h, +24 h, daily to day 14, then weekly.
AFTER_REPORT = [HOUR, 6 * HOUR, DAY] + [d * DAY for d in range(2, 15)]
AFTER_REPORT_THEN = 7 * DAY
# After a removal: +1 d, +7 d, +30 d, then monthly, to catch re-uploads.
AFTER_REMOVAL = [DAY, 7 * DAY, 30 * DAY]
AFTER_REMOVAL_THEN = 30 * DAY
# Indeterminate results back off from 15 minutes, doubling, to a day.
BACKOFF_START = timedelta(minutes=15)
BACKOFF_MAX = DAY


def _next_on_ladder(
    start: datetime, now: datetime, ladder: list[timedelta], then: timedelta, scale: float
) -> datetime:
    for offset in ladder:
        due = start + offset * scale
        if due > now:
            return due
    last = start + ladder[-1] * scale
    step = then * scale
    periods = int((now - last) / step) + 1
    return last + step * periods


def next_check_at(
    *,
    state: str,
    reported_at: datetime,
    removed_at: datetime | None,
    now: datetime,
    indeterminate_streak: int,
    confirm_after: timedelta,
    retry_after: timedelta | None = None,
    scale: float = 1.0,
) -> datetime | None:
    """The next due time for a URL in `state` after a check at `now`; None stops checking.
    `confirm_after` and `retry_after` are real durations; the ladders are multiplied by `scale`."""
    if state == "invalid":
        return None
    if state == "removal_suspected":
        due = now + confirm_after
    elif state == "removed" and removed_at is not None:
        due = _next_on_ladder(removed_at, now, AFTER_REMOVAL, AFTER_REMOVAL_THEN, scale)
    elif state == "indeterminate" or indeterminate_streak > 0:
        backoff = min(BACKOFF_START * (2 ** max(indeterminate_streak - 1, 0)), BACKOFF_MAX)
        due = now + backoff * scale
    else:
        due = _next_on_ladder(reported_at, now, AFTER_REPORT, AFTER_REPORT_THEN, scale)
    if retry_after is not None:
        due = max(due, now + retry_after)
    return due
