"""One reported URL's contribution to the statistics, computed from its row, its case, the
first removal request sent for it and its own checks. Pure functions: no session.
These are the rules as written; the fold computes the same in SQL (setfold.py, cells.py),
the naive reference (reference.py) with these, and the tests compare both."""
from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from disrupt.cases.models import URL_STATES
from disrupt.dashboard.models import BUCKET_EDGES_HOURS, LOWER_COLUMNS, UPPER_COLUMNS

STOPPED_CASE_GROUPS = {"withdrawn": "withdrawn", "erased": "erased"}
CONCLUSIVE_VERDICTS = ("online", "removed")
# States the takedown rate and the within-deadline share are computed over.
RATE_STATES = ("removed", "online")


@dataclass(frozen=True)
class URLRow:
    id: int
    created_at: datetime
    platform_id: int | None
    state: str
    reappeared: bool
    case_status: str
    age_group: str


@dataclass(frozen=True)
class SentRequest:
    id: int
    sent_at: datetime
    platform_id: int
    legal_basis: str
    deadline_at: datetime | None


def epoch(moment: datetime) -> int:
    return calendar.timegm(moment.utctimetuple())


def week_start(day: date) -> date:
    """Weeks are ISO weeks: Monday to Sunday, in UTC."""
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def first_request(requests: Iterable[SentRequest]) -> SentRequest | None:
    """The request that decides a URL's period: the earliest sent (ties: the lowest id)."""
    return min(requests, key=lambda r: (r.sent_at, r.id), default=None)


def removal_interval(
    checks: Sequence[tuple[datetime, str]], sent_at: datetime, confirm_after: timedelta
) -> tuple[int, int] | None:
    """(lower, upper) seconds from `sent_at` to the first removal confirmed after the request
    was sent, replaying the rule of DESIGN.md §6 over the URL's checks in time order: a
    removal starts at a `removed` verdict and counts once a second `removed` verdict comes at
    least `confirm_after` later with no `online`, `restricted` or `invalid` verdict between.
    upper = that first removed check − sent; lower = the last online check before it − sent.
    Both are 0 when the content was already gone when the request was sent."""
    last_online: datetime | None = None
    suspected_at: datetime | None = None
    online_before: datetime | None = None
    removed = False
    for checked_at, verdict in checks:
        if verdict == "online":
            last_online, suspected_at, removed = checked_at, None, False
        elif verdict in ("restricted", "invalid"):
            suspected_at, removed = None, False
        elif verdict == "removed" and not removed:
            if suspected_at is None:
                suspected_at, online_before = checked_at, last_online
            elif checked_at - suspected_at >= confirm_after:
                removed = True
                if checked_at >= sent_at:
                    upper = max(0, int((suspected_at - sent_at).total_seconds()))
                    lower = 0 if online_before is None else max(
                        0, int((online_before - sent_at).total_seconds()))
                    return min(lower, upper), upper
    return None


def bucket_of(seconds: int) -> int:
    hours = seconds / 3600
    for index, edge in enumerate(BUCKET_EDGES_HOURS):
        if hours <= edge:
            return index
    return len(BUCKET_EDGES_HOURS)


def case_group(case_status: str) -> str:
    return STOPPED_CASE_GROUPS.get(case_status, "checked")


def build_fact(
    url: URLRow, request: SentRequest | None, checks: Sequence[tuple[datetime, str]], *,
    confirm_after: timedelta, deadline_hours: dict[int, int],
) -> dict[str, Any]:
    """The TakedownFact row of `url` (column name -> value)."""
    fact: dict[str, Any] = {
        "reported_url_id": url.id,
        "created_day": url.created_at.date(),
        "url_platform_id": url.platform_id or 0,
        "minor": url.age_group == "minor",
        "case_group": case_group(url.case_status),
        "state": url.state,
        "reappeared": bool(url.reappeared),
        "verified": request is not None or any(v in CONCLUSIVE_VERDICTS for _, v in checks),
        "first_request_id": None, "sent_at": None, "sent_day": None, "platform_id": None,
        "legal_basis": None, "deadline_epoch": None, "upper_s": None, "lower_s": None,
        "within_deadline": False,
    }
    if request is None:
        return fact
    deadline = request.deadline_at or request.sent_at + timedelta(
        hours=deadline_hours.get(request.platform_id, 48))
    fact.update(first_request_id=request.id, sent_at=request.sent_at,
                sent_day=request.sent_at.date(), platform_id=request.platform_id,
                legal_basis=request.legal_basis, deadline_epoch=epoch(deadline))
    interval = removal_interval(checks, request.sent_at, confirm_after)
    if interval is not None:
        fact["lower_s"], fact["upper_s"] = interval
        fact["within_deadline"] = (url.state in RATE_STATES and request.sent_at + timedelta(
            seconds=interval[1]) <= deadline)
    return fact


TakedownKey = tuple[date, int, str, bool, str]
FunnelKey = tuple[date, int, bool, str]


def takedown_contribution(fact: dict[str, Any]) -> tuple[TakedownKey, dict[str, int]] | None:
    if fact["sent_at"] is None:
        return None
    key = (fact["sent_day"], fact["platform_id"], fact["legal_basis"], fact["minor"],
           fact["case_group"])
    counters = {"urls": 1, fact["state"]: 1}
    if fact["state"] not in URL_STATES:
        raise ValueError(f"unknown URL state {fact['state']!r}")
    if fact["reappeared"]:
        counters["reappeared"] = 1
    if fact["upper_s"] is not None:
        counters["timed"] = 1
        counters["upper_sum_s"] = fact["upper_s"]
        counters["lower_sum_s"] = fact["lower_s"]
        counters[UPPER_COLUMNS[bucket_of(fact["upper_s"])]] = 1
        counters[LOWER_COLUMNS[bucket_of(fact["lower_s"])]] = 1
    if fact["within_deadline"]:
        counters["within_deadline"] = 1
    return key, counters


def funnel_contribution(fact: dict[str, Any]) -> tuple[FunnelKey, dict[str, int]]:
    key = (fact["created_day"], fact["url_platform_id"], fact["minor"], fact["case_group"])
    notified = fact["sent_at"] is not None
    counters = {"reported": 1, "verified": int(fact["verified"]), "notified": int(notified),
                "removed": int(notified and fact["state"] == "removed")}
    return key, counters
