"""The same figures as services.takedown_statistics, computed the naive way: every URL, every
request and the whole check log read on each call. Used by the tests to prove the folded
cells right, and by bench/dashboard.py as the baseline."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
from disrupt.dashboard.casework import casework_figures
from disrupt.dashboard.facts import (
    SentRequest,
    URLRow,
    build_fact,
    first_request,
    funnel_contribution,
    month_start,
    takedown_contribution,
    week_start,
)
from disrupt.dashboard.pending import count_pending
from disrupt.dashboard.services import (
    OVERDUE_LIST_LIMIT,
    Scope,
    _start,
    figures_from_cells,
    platform_list,
)
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.exchange.services import feedback_counts
from disrupt.platforms.models import Platform, RemovalRequest, removal_request_urls


def deadline_hours_by_platform(session: Session) -> dict[int, int]:
    return {pid: hours for pid, hours in session.execute(
        select(Platform.id, Platform.deadline_hours))}

def _all_facts(session: Session, confirm_after: timedelta) -> Iterator[dict[str, Any]]:
    urls = {row[0]: URLRow(*row) for row in session.execute(
        select(ReportedURL.id, ReportedURL.created_at, ReportedURL.platform_id,
               ReportedURL.state, ReportedURL.reappeared, Case.status, Case.age_group)
        .join(Case, Case.id == ReportedURL.case_id))}
    sent: dict[int, list[SentRequest]] = defaultdict(list)
    for url_id, *request in session.execute(
        select(removal_request_urls.c.url_id, RemovalRequest.id, RemovalRequest.sent_at,
               RemovalRequest.platform_id, RemovalRequest.legal_basis,
               RemovalRequest.deadline_at)
        .join(RemovalRequest, RemovalRequest.id == removal_request_urls.c.request_id)
        .where(RemovalRequest.sent_at.is_not(None))):
        sent[url_id].append(SentRequest(*request))
    hours = deadline_hours_by_platform(session)
    log = session.execute(
        select(URLCheck.reported_url_id, URLCheck.checked_at, URLCheck.verdict)
        .order_by(URLCheck.reported_url_id, URLCheck.checked_at, URLCheck.id)
        .execution_options(yield_per=20_000))
    seen = set()
    for url_id, rows in groupby(log, key=lambda r: r[0]):
        url = urls.get(url_id)
        if url is None:
            continue
        seen.add(url_id)
        checks = [(checked_at, verdict) for _, checked_at, verdict in rows]
        yield build_fact(url, first_request(sent.get(url_id, ())), checks,
                         confirm_after=confirm_after, deadline_hours=hours)
    for url_id, url in urls.items():
        if url_id not in seen:
            yield build_fact(url, first_request(sent.get(url_id, ())), (),
                             confirm_after=confirm_after, deadline_hours=hours)


def _in_scope(day: date, platform_id: int, scope: Scope) -> bool:
    return ((scope.since is None or day >= scope.since)
            and (scope.until is None or day < scope.until)
            and (scope.platform_id is None or platform_id == scope.platform_id))


def naive_statistics(
    session: Session, *, now: datetime, confirm_after: timedelta, since: date | None = None,
    until: date | None = None, platform_id: int | None = None, by: str = "month",
) -> dict[str, Any]:
    scope = Scope(since=since, until=until, platform_id=platform_id, by=by)
    now_epoch = int(now.timestamp())
    dimension_sums: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    period_sums: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    overdue_rows = []
    funnel_totals: dict[str, int] = defaultdict(int)
    overdue_candidates = []
    for fact in _all_facts(session, confirm_after):
        key, counters = funnel_contribution(fact)
        if _in_scope(key[0], key[1], scope):
            for name, value in counters.items():
                funnel_totals[name] += value
        contribution = takedown_contribution(fact)
        if contribution is None:
            continue
        overdue = fact["state"] == "online" and fact["deadline_epoch"] < now_epoch
        if overdue and (platform_id is None or fact["platform_id"] == platform_id):
            overdue_candidates.append((fact["deadline_epoch"], fact["first_request_id"]))
        (day, pid, basis, minor, group), counters = contribution
        if not _in_scope(day, pid, scope):
            continue
        start = {"week": week_start(day), "month": month_start(day),
                 "year": date(day.year, 1, 1)}[by]
        for name, value in counters.items():
            dimension_sums[(pid, basis, minor, group)][name] += value
            period_sums[start][name] += value
        if overdue:
            overdue_rows.append(({"platform_id": pid, "legal_basis": basis, "minor": minor,
                                  "case_group": group}, 1))
    dimension_rows = [({"platform_id": k[0], "legal_basis": k[1], "minor": k[2],
                        "case_group": k[3]}, v) for k, v in dimension_sums.items()]
    period_rows = [({"start": k}, v) for k, v in period_sums.items()]
    cases = select(func.count()).select_from(Case)
    if since is not None:
        cases = cases.where(Case.created_at >= _start(since))
    if until is not None:
        cases = cases.where(Case.created_at < _start(until))
    funnel = [
        {"stage": "reports_received", "label": "Reports received (cases opened)",
         "count": session.scalar(cases) or 0},
        {"stage": "urls_reported", "label": "URLs reported", "count": funnel_totals["reported"]},
        {"stage": "urls_verified", "label": "URLs verified", "count": funnel_totals["verified"]},
        {"stage": "urls_notified", "label": "URLs in a removal request sent",
         "count": funnel_totals["notified"]},
        {"stage": "urls_removed", "label": "Of these, removed now",
         "count": funnel_totals["removed"]},
    ]
    counts: dict[int, int] = {}
    for _, request_id in sorted(overdue_candidates):
        if request_id in counts or len(counts) < OVERDUE_LIST_LIMIT:
            counts[request_id] = counts.get(request_id, 0) + 1
    overdue_list = []
    for request in session.scalars(select(RemovalRequest).where(
            RemovalRequest.id.in_(list(counts)))):
        platform = session.get(Platform, request.platform_id)
        overdue_list.append({
            "request_id": request.id, "case_id": request.case_id,
            "platform": platform.name if platform else None,
            "legal_basis": request.legal_basis, "status": request.status,
            "sent_at": request.sent_at.isoformat() if request.sent_at else None,
            "deadline_at": request.deadline_at.isoformat() if request.deadline_at else None,
            "hours_overdue": round((now - request.deadline_at).total_seconds() / 3600, 1)
            if request.deadline_at else None,
            "urls_online": counts[request.id]})
    overdue_list.sort(key=lambda r: (r["deadline_at"] or "", r["request_id"]))
    figures = figures_from_cells(
        scope, dimension_rows=dimension_rows, period_rows=period_rows,
        overdue_rows=overdue_rows, funnel=funnel, overdue_list=overdue_list,
        platforms=platform_list(session),
        pending=count_pending(session),
        now=now, hash_exchange=feedback_counts(session))
    # Read from the cases themselves on both sides (no cells): checked by hand in
    # tests/dashboard/test_casework.py.
    figures["casework"] = casework_figures(session, since=since, until=until)
    return figures
