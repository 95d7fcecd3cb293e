"""Statistics of DESIGN.md §8, read from the daily cells kept by fold.py. Takes a session;
never commits. `figures_from_cells` is shared with the reference computation (reference.py)
that rebuilds the same figures from the check log."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import URL_STATES, Case
from disrupt.dashboard.casework import casework_figures
from disrupt.dashboard.facts import epoch, month_start, week_start
from disrupt.dashboard.models import (
    BUCKET_EDGES_HOURS,
    BUCKETS,
    CASE_GROUPS,
    FUNNEL_COUNTERS,
    LOWER_COLUMNS,
    TAKEDOWN_COUNTERS,
    UPPER_COLUMNS,
    TakedownFact,
    funnel_cells,
    takedown_cells,
)
from disrupt.dashboard.pending import count_pending
from disrupt.platforms.exchange.services import feedback_counts
from disrupt.platforms.models import LEGAL_BASES, Platform, RemovalRequest
from disrupt.translatable import N_

PERIOD_UNITS = ("week", "month", "year")
OVERDUE_LIST_LIMIT = 50

DEFINITIONS = {
    "takedown_rate": N_("removed / (removed + online), over the URLs for which a removal request "
                        "was sent; the other states are counted beside it, never in either side"),
    "state": N_("the URL's state now: for URLs of withdrawn or erased cases, which are no longer "
                "checked, the last state known"),
    "period": N_("a URL belongs to the period (UTC) in which the first removal request for it was "
                 "sent; later requests for it do not move it"),
    "time_to_removal": N_("between the last online check and the first removed check after the "
                          "first request was sent (a removal confirmed by a second check): upper "
                          "bound = first removed check - sent, lower bound = last online check "
                          "before it - sent (0 if it was never seen online after sending)"),
    "quantiles": N_("nearest-rank median and 90th percentile of the upper bounds and of the lower "
                    "bounds, given as the histogram bucket that holds them: the true value lies "
                    "between the lower bound's bucket start and the upper bound's bucket end"),
    "within_deadline": N_("URLs whose first removed check came no later than the deadline of the "
                          "first request, over removed + online URLs"),
    "reappeared": N_("URLs removed and then seen online again (counted online in the rate)"),
    "overdue": N_("URLs still online after the deadline of the first request sent for them"),
    "verified": N_("a URL with at least one conclusive check (online or removed), or for which a "
                   "removal request was sent"),
    "funnel": N_("cases opened and URLs reported in the period; of those URLs, how many were "
                 "verified, notified, and are removed now"),
}


@dataclass(frozen=True)
class Scope:
    since: date | None = None
    until: date | None = None  # exclusive
    platform_id: int | None = None
    by: str = "month"

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "platform_id": self.platform_id, "by": self.by}


def resolve_period(period: str | None, at: date, since: date | None = None,
                   until: date | None = None) -> tuple[date | None, date | None]:
    """The [since, until) days of a named period containing `at`, or the custom range."""
    if period == "week":
        start = week_start(at)
        return start, start + timedelta(days=7)
    if period == "month":
        start = month_start(at)
        return start, (start + timedelta(days=32)).replace(day=1)
    if period == "year":
        return date(at.year, 1, 1), date(at.year + 1, 1, 1)
    return since, until


def period_label(start: date, unit: str) -> str:
    if unit == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return start.strftime("%Y-%m")
    return str(start.year)


def takedown_rate(removed: int, online: int) -> float | None:
    """removed ÷ (removed + online); None when nothing is known either way."""
    return removed / (removed + online) if removed + online else None


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _quantile(counts: list[int], total: int, q: float) -> int | None:
    """The bucket index holding the nearest-rank q-quantile of `total` values."""
    if total <= 0:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return index
    return len(counts) - 1


def bucket_bounds(index: int) -> tuple[int, int | None]:
    """(start, end] hours of a bucket; end None for the last (more than a year)."""
    start = 0 if index == 0 else BUCKET_EDGES_HOURS[index - 1]
    end = BUCKET_EDGES_HOURS[index] if index < len(BUCKET_EDGES_HOURS) else None
    return start, end


def figures(counters: Mapping[str, int], overdue: int = 0) -> dict[str, Any]:
    """The figures of one group of notified URLs from its summed counters."""
    c = {name: int(counters.get(name, 0) or 0) for name in TAKEDOWN_COUNTERS}
    removed, online, timed = c["removed"], c["online"], c["timed"]
    result: dict[str, Any] = {"urls_notified": c["urls"],
                              "takedown_rate": _round(takedown_rate(removed, online))}
    result.update({state: c[state] for state in URL_STATES})
    upper = [c[name] for name in UPPER_COLUMNS]
    lower = [c[name] for name in LOWER_COLUMNS]
    for label, q in (("median", 0.5), ("p90", 0.9)):
        up, lo = _quantile(upper, timed, q), _quantile(lower, timed, q)
        result[f"{label}_hours_from"] = None if lo is None else bucket_bounds(lo)[0]
        result[f"{label}_hours_to"] = None if up is None else bucket_bounds(up)[1]
    result["mean_hours_upper"] = _round(c["upper_sum_s"] / timed / 3600, 3) if timed else None
    result["timed"] = timed
    result["within_deadline"] = c["within_deadline"]
    result["within_deadline_share"] = _round(
        c["within_deadline"] / (removed + online) if removed + online else None)
    result["reappeared"] = c["reappeared"]
    result["overdue"] = overdue
    return result


def _add(into: dict[str, int], counters: Mapping[str, Any]) -> None:
    for name, value in counters.items():
        into[name] += int(value or 0)


def _group(rows: Iterable[tuple[dict[str, Any], Mapping[str, Any]]],
           key: Callable[[dict[str, Any]], Any]) -> dict[Any, dict[str, int]]:
    groups: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for dims, counters in rows:
        _add(groups[key(dims)], counters)
    return groups


def _next_period(day: date, grain: str) -> date:
    if grain == "w":
        return day + timedelta(days=7)
    return (day + timedelta(days=32)).replace(day=1)


def segments(since: date | None, until: date | None,
             grain: str) -> list[tuple[str, date | None, date | None]]:
    """Cover [since, until) with the whole weeks or months of `grain` inside it and the days
    left at its edges: (grain, first start, end start) triples, bounds None when open."""
    if grain == "d":
        return [("d", since, until)]
    align = week_start if grain == "w" else month_start
    low = None if since is None else (
        since if align(since) == since else _next_period(align(since), grain))
    high = None if until is None else align(until)
    if low is not None and high is not None and low >= high:
        return [("d", since, until)]
    parts: list[tuple[str, date | None, date | None]] = [(grain, low, high)]
    if since is not None and low != since:
        parts.append(("d", since, low))
    if until is not None and high != until:
        parts.append(("d", high, until))
    return parts


def _where(table: Table, scope: Scope, part: tuple[str, date | None, date | None]) -> list[Any]:
    grain, low, high = part
    clauses = [table.c.grain == grain]
    if low is not None:
        clauses.append(table.c.day >= low)
    if high is not None:
        clauses.append(table.c.day < high)
    if scope.platform_id is not None:
        clauses.append(table.c.platform_id == scope.platform_id)
    return clauses


DIMENSIONS = ("platform_id", "legal_basis", "minor", "case_group")
# What a row of each grain is grouped by for a trend by week, month or year.
PERIOD_COLUMN = {("w", "week"): "day", ("d", "week"): "week", ("m", "month"): "day",
                 ("d", "month"): "month", ("m", "year"): "year", ("d", "year"): "year"}


def _cell_sums(session: Session, scope: Scope, group_by: tuple[str, ...] | None,
               ) -> list[tuple[dict[str, Any], dict[str, int]]]:
    """Summed counters of the takedown cells in scope, grouped by the dimensions, or by the
    period of the trend (group_by None)."""
    t = takedown_cells
    grain = "w" if group_by is None and scope.by == "week" else "m"
    result = []
    for part in segments(scope.since, scope.until, grain):
        names = group_by or (PERIOD_COLUMN[(part[0], scope.by)],)
        columns = [t.c[name] for name in names]
        query = (select(*columns, *[func.sum(t.c[name]).label(name)
                                    for name in TAKEDOWN_COUNTERS])
                 .where(*_where(t, scope, part)).group_by(*columns))
        for row in session.execute(query):
            values = row._mapping
            dims = {name: values[name] for name in names}
            if group_by is None:
                start = dims[names[0]]
                dims = {"start": date(start, 1, 1) if scope.by == "year" else start}
            result.append((dims, {name: values[name] for name in TAKEDOWN_COUNTERS}))
    return result


def _overdue(session: Session, scope: Scope, now: datetime) -> list[tuple[dict[str, Any], int]]:
    """Online URLs past their deadline, by dimensions. A cell whose every deadline has passed
    counts all its online URLs; a recent month is read by day, and the few recent days URL
    by URL."""
    now_epoch = epoch(now)
    t = takedown_cells
    keys = (t.c.grain, t.c.day, *[t.c[d] for d in DIMENSIONS], t.c.online,
            t.c.max_deadline_epoch)
    result: list[tuple[dict[str, Any], int]] = []
    fresh_months, fresh_days = set(), set()
    rows = [tuple(row) for part in segments(scope.since, scope.until, "m")
            for row in session.execute(select(*keys).where(*_where(t, scope, part)))]
    for grain, day, *dims, online, deadline in rows:
        if deadline < now_epoch:
            result.append((dict(zip(DIMENSIONS, dims, strict=True)), int(online)))
        elif grain == "m":
            fresh_months.add((day, *dims))
        else:
            fresh_days.add((day, *dims))
    if fresh_months:
        first = min(k[0] for k in fresh_months)
        part = ("d", first, scope.until)
        for _, day, *dims, online, deadline in session.execute(
                select(*keys).where(*_where(t, scope, part))):
            if (month_start(day), *dims) not in fresh_months:
                continue
            if deadline < now_epoch:
                result.append((dict(zip(DIMENSIONS, dims, strict=True)), int(online)))
            else:
                fresh_days.add((day, *dims))
    if fresh_days:
        f = TakedownFact
        counts: dict[tuple[Any, ...], int] = defaultdict(int)
        for row in session.execute(
            select(f.sent_day, f.platform_id, f.legal_basis, f.minor, f.case_group)
            .where(f.sent_day >= min(k[0] for k in fresh_days), f.state == "online",
                   f.deadline_epoch < now_epoch)):
            if tuple(row) in fresh_days:
                counts[tuple(row)[1:]] += 1
        result += [(dict(zip(DIMENSIONS, k, strict=True)), n) for k, n in counts.items()]
    return result


def _funnel(session: Session, scope: Scope) -> list[dict[str, Any]]:
    t = funnel_cells
    totals = [0] * len(FUNNEL_COUNTERS)
    for part in segments(scope.since, scope.until, "m"):
        sums = session.execute(select(*[func.coalesce(func.sum(t.c[name]), 0)
                                        for name in FUNNEL_COUNTERS])
                               .where(*_where(t, scope, part))).one()
        totals = [a + int(b) for a, b in zip(totals, sums, strict=True)]
    cases = select(func.count()).select_from(Case)
    if scope.since is not None:
        cases = cases.where(Case.created_at >= _start(scope.since))
    if scope.until is not None:
        cases = cases.where(Case.created_at < _start(scope.until))
    reported, verified, notified, removed = totals
    stages = [
        ("reports_received", N_("Reports received (cases opened)"), session.scalar(cases) or 0),
        ("urls_reported", N_("URLs reported"), reported),
        ("urls_verified", N_("URLs verified"), verified),
        ("urls_notified", N_("URLs in a removal request sent"), notified),
        ("urls_removed", N_("Of these, removed now"), removed),
    ]
    return [{"stage": key, "label": label, "count": count} for key, label, count in stages]


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def overdue_requests(session: Session, *, now: datetime, platform_id: int | None = None,
                     limit: int = OVERDUE_LIST_LIMIT) -> list[dict[str, Any]]:
    """First requests with URLs still online past their deadline, the longest overdue first."""
    f = TakedownFact
    query = (select(f.first_request_id, f.deadline_epoch)
             .where(f.state == "online", f.deadline_epoch < epoch(now))
             .order_by(f.deadline_epoch, f.first_request_id).limit(limit * 20))
    if platform_id is not None:
        query = query.where(f.platform_id == platform_id)
    counts: dict[int, int] = {}
    for request_id, _ in session.execute(query):
        if request_id not in counts and len(counts) >= limit:
            continue
        counts[request_id] = counts.get(request_id, 0) + 1
    if not counts:
        return []
    rows = session.execute(
        select(RemovalRequest.id, RemovalRequest.case_id, Platform.name,
               RemovalRequest.legal_basis, RemovalRequest.status, RemovalRequest.sent_at,
               RemovalRequest.deadline_at)
        .join(Platform, Platform.id == RemovalRequest.platform_id)
        .where(RemovalRequest.id.in_(list(counts)))).all()
    listed = []
    for request_id, case_id, platform, basis, status, sent_at, deadline_at in rows:
        listed.append({
            "request_id": request_id, "case_id": case_id, "platform": platform,
            "legal_basis": basis, "status": status,
            "sent_at": sent_at.isoformat() if sent_at else None,
            "deadline_at": deadline_at.isoformat() if deadline_at else None,
            "hours_overdue": round((now - deadline_at).total_seconds() / 3600, 1)
            if deadline_at else None,
            "urls_online": counts[request_id],
        })
    listed.sort(key=lambda r: (r["deadline_at"] or "", r["request_id"]))
    return listed


def _time_distribution(counters: Mapping[str, int]) -> list[dict[str, Any]]:
    rows = []
    for index in range(BUCKETS):
        start, end = bucket_bounds(index)
        rows.append({"from_hours": start, "to_hours": end,
                     "label": f"{start}–{end} h" if end is not None else f"> {start} h",
                     "upper_bound": int(counters.get(UPPER_COLUMNS[index], 0) or 0),
                     "lower_bound": int(counters.get(LOWER_COLUMNS[index], 0) or 0)})
    return rows


def figures_from_cells(
    scope: Scope, *, dimension_rows: list[tuple[dict[str, Any], dict[str, int]]],
    period_rows: list[tuple[dict[str, Any], dict[str, int]]],
    overdue_rows: list[tuple[dict[str, Any], int]], funnel: list[dict[str, Any]],
    overdue_list: list[dict[str, Any]], platforms: list[tuple[int, str, int]],
    pending: int, now: datetime, hash_exchange: dict[str, Any],
) -> dict[str, Any]:
    """Every figure of the dashboard from grouped cell sums (shared by the cells and the
    reference computation)."""
    def overdue_by(key: Callable[[dict[str, Any]], Any]) -> dict[Any, int]:
        totals: dict[Any, int] = defaultdict(int)
        for dims, count in overdue_rows:
            totals[key(dims)] += count
        return totals

    overall = _group(dimension_rows, lambda d: None).get(None, {})
    overall_overdue = sum(n for _, n in overdue_rows)
    by_platform = _group(dimension_rows, lambda d: d["platform_id"])
    platform_overdue = overdue_by(lambda d: d["platform_id"])
    rows_platforms = []
    for platform_id, name, deadline_hours in platforms:
        if scope.platform_id is not None and platform_id != scope.platform_id:
            continue
        counters = by_platform.get(platform_id, {})
        rows_platforms.append({"platform": name, "platform_id": platform_id,
                               "deadline_hours": deadline_hours,
                               **figures(counters, platform_overdue.get(platform_id, 0))})
    by_basis = _group(dimension_rows, lambda d: d["legal_basis"])
    basis_overdue = overdue_by(lambda d: d["legal_basis"])
    bases = list(LEGAL_BASES) + sorted(set(by_basis) - set(LEGAL_BASES))
    by_age = _group(dimension_rows, lambda d: bool(d["minor"]))
    age_overdue = overdue_by(lambda d: bool(d["minor"]))
    by_case = _group(dimension_rows, lambda d: d["case_group"])
    case_overdue = overdue_by(lambda d: d["case_group"])
    trend = []
    by_period = _group(period_rows, lambda d: d["start"])
    for start in sorted(by_period):
        trend.append({"period": period_label(start, scope.by), "start": start.isoformat(),
                      **figures(by_period[start])})
    return {
        "definitions": DEFINITIONS,
        "scope": scope.to_json(),
        "generated_at": now.isoformat(),
        "pending_changes": pending,
        "hash_exchange": hash_exchange,  # newest feedback per hash: not tied to a period
        "overall": figures(overall, overall_overdue),
        "platforms": rows_platforms,
        "legal_bases": [{"legal_basis": b, **figures(by_basis.get(b, {}), basis_overdue.get(b, 0))}
                        for b in bases],
        "age_groups": [{"age_group": label, **figures(by_age.get(minor, {}),
                                                      age_overdue.get(minor, 0))}
                       for minor, label in ((True, N_("minor")), (False, N_("adult or unknown")))],
        "case_groups": [{"case_group": g, **figures(by_case.get(g, {}), case_overdue.get(g, 0))}
                        for g in CASE_GROUPS],
        "trend": trend,
        "time_to_removal": _time_distribution(overall),
        "funnel": funnel,
        "overdue_requests": overdue_list,
    }


def platform_list(session: Session) -> list[tuple[int, str, int]]:
    return [tuple(r) for r in session.execute(
        select(Platform.id, Platform.name, Platform.deadline_hours).order_by(Platform.name))]


def takedown_statistics(
    session: Session, *, now: datetime, since: date | None = None, until: date | None = None,
    platform_id: int | None = None, by: str = "month",
) -> dict[str, Any]:
    """The dashboard's figures for URLs whose first request was sent in [since, until)."""
    if by not in PERIOD_UNITS:
        raise ValueError(f"by must be one of {', '.join(PERIOD_UNITS)}")
    scope = Scope(since=since, until=until, platform_id=platform_id, by=by)
    figures = figures_from_cells(
        scope,
        dimension_rows=_cell_sums(session, scope, DIMENSIONS),
        period_rows=_cell_sums(session, scope, None),
        overdue_rows=_overdue(session, scope, now),
        funnel=_funnel(session, scope),
        overdue_list=overdue_requests(session, now=now, platform_id=platform_id),
        platforms=platform_list(session),
        pending=count_pending(session),
        now=now,
        hash_exchange=feedback_counts(session),
    )
    # The hotline's own work, over cases opened in the period (all platforms).
    figures["casework"] = casework_figures(session, since=since, until=until)
    return figures
