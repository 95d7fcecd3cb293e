"""Deadlines: which requests are overdue, raising them once, and which platforms routinely
miss their deadline. Takes a session and `now`; never commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, select, update
from sqlalchemy.orm import Session, selectinload

from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.rules import case_stopped, work_refusal
from disrupt.platforms.models import (
    AWAITING_ACTION,
    EscalationStep,
    Platform,
    RemovalRequest,
    removal_request_urls,
)

# A platform "routinely" misses deadlines when at least this share of at least this many
# requests whose deadline has passed got no decision in time.
ROUTINE_MISS_SHARE = 0.5
ROUTINE_MIN_REQUESTS = 3


def _has_url_still_up() -> exists:
    return exists().where(
        removal_request_urls.c.request_id == RemovalRequest.id,
        removal_request_urls.c.url_id == ReportedURL.id,
        ReportedURL.state != "removed",
    ).correlate_except(removal_request_urls, ReportedURL)


# The one definition of "overdue", in Python (is_overdue) and in SQL (overdue_clause): sent,
# its deadline passed, still waiting for the platform (not answered, failed or cancelled), its
# case not stopped by the victim, and some URL of it not removed.

def is_overdue(request: RemovalRequest, case: Case, now: datetime) -> bool:
    """Whether ``request`` (of ``case``) is overdue at ``now``."""
    return (request.sent_at is not None and request.deadline_at is not None
            and request.deadline_at < now and request.status in AWAITING_ACTION
            and work_refusal(case) is None
            and any(url.state != "removed" for url in request.urls))


def is_step_overdue(step: EscalationStep, case: Case, url: ReportedURL,
                    now: datetime) -> bool:
    """Whether a web-form rung of the escalation ladder is overdue at ``now``: submitted, its
    deadline passed with no outcome recorded, its case not stopped and its URL not removed.
    (A notice rung is its removal request: ``is_overdue``.)"""
    return (step.status == "submitted" and step.deadline_at is not None
            and step.deadline_at < now and work_refusal(case) is None
            and url.state != "removed")


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL: the RemovalRequest row is overdue at ``now``."""
    return and_(RemovalRequest.sent_at.is_not(None),
                RemovalRequest.deadline_at.is_not(None),
                RemovalRequest.deadline_at < now,
                RemovalRequest.status.in_(AWAITING_ACTION),
                ~case_stopped(RemovalRequest.case_id),
                _has_url_still_up())


def overdue_query(now: datetime) -> Select[tuple[RemovalRequest]]:
    """Overdue requests, the earliest deadline first."""
    return (
        select(RemovalRequest)
        .where(overdue_clause(now))
        .order_by(RemovalRequest.deadline_at, RemovalRequest.id)
    )


def _only_visible(query: Select, assignee_id: int | None) -> Select:
    if assignee_id is None:
        return query
    return query.join(Case, Case.id == RemovalRequest.case_id).where(
        (Case.assignee_id.is_(None)) | (Case.assignee_id == assignee_id))


def overdue_requests(
    session: Session, *, now: datetime, assignee_id: int | None = None, limit: int = 500,
) -> list[RemovalRequest]:
    """Overdue requests; with ``assignee_id``, only those of that caseworker's cases and of
    unassigned ones."""
    query = _only_visible(overdue_query(now), assignee_id).limit(limit)
    return list(session.scalars(query.options(selectinload(RemovalRequest.urls))))


def failed_requests(
    session: Session, *, assignee_id: int | None = None, limit: int = 500,
) -> list[RemovalRequest]:
    """Requests that could not be delivered; not those of stopped cases (cancelled, and no
    retry is allowed)."""
    query = select(RemovalRequest).where(RemovalRequest.status == "failed",
                                         ~case_stopped(RemovalRequest.case_id)) \
        .order_by(RemovalRequest.created_at.desc())
    return list(session.scalars(_only_visible(query, assignee_id).limit(limit)))


def raise_overdue(session: Session, *, now: datetime) -> list[RemovalRequest]:
    """Mark newly overdue requests as escalated, each exactly once even with several workers
    (a conditional update: the second worker's update matches no row)."""
    candidates = list(session.scalars(
        overdue_query(now).where(RemovalRequest.escalated_at.is_(None))))
    raised = []
    for request in candidates:
        result = session.execute(
            update(RemovalRequest)
            .where(RemovalRequest.id == request.id, RemovalRequest.escalated_at.is_(None))
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            request.escalated_at = now
            raised.append(request)
    return raised


def decided_in_time(request: RemovalRequest) -> bool:
    """The platform decided (actioned or rejected, or every URL was confirmed removed) by the
    deadline."""
    deadline = request.deadline_at
    if deadline is None:
        return True
    if any(r.status in ("actioned", "rejected") and r.received_at <= deadline
           for r in request.replies):
        return True
    return bool(request.urls) and all(
        u.removed_at is not None and u.removed_at <= deadline for u in request.urls)


@dataclass(frozen=True)
class DeadlineRecord:
    platform: Platform
    due: int            # requests whose deadline has passed
    missed: int         # ... with no decision in time
    overdue_now: int    # still waiting past the deadline
    rejected: int

    @property
    def missed_share(self) -> float | None:
        return self.missed / self.due if self.due else None

    @property
    def routinely_late(self) -> bool:
        share = self.missed_share
        return self.due >= ROUTINE_MIN_REQUESTS and share is not None and \
            share >= ROUTINE_MISS_SHARE


def deadline_records(
    session: Session, *, now: datetime, since: datetime | None = None,
) -> list[DeadlineRecord]:
    """Per platform, how often the deadline was missed; worst first. Follow-ups are not
    counted: the first notice's deadline is the platform's obligation."""
    query = (
        select(RemovalRequest)
        .where(RemovalRequest.sent_at.is_not(None), RemovalRequest.deadline_at < now,
               RemovalRequest.follow_up_of_id.is_(None))
        .options(selectinload(RemovalRequest.urls), selectinload(RemovalRequest.replies))
    )
    if since is not None:
        query = query.where(RemovalRequest.sent_at >= since)
    overdue_ids = {r.id for r in session.scalars(overdue_query(now))}
    tallies: dict[int, list[int]] = {}
    platforms: dict[int, Platform] = {}
    for request in session.scalars(query):
        tally = tallies.setdefault(request.platform_id, [0, 0, 0, 0])
        platforms[request.platform_id] = request.platform
        tally[0] += 1
        tally[1] += not decided_in_time(request)
        tally[2] += request.id in overdue_ids
        tally[3] += request.status == "rejected"
    records = [DeadlineRecord(platforms[pid], *tally) for pid, tally in tallies.items()]
    return sorted(records, key=lambda r: (-(r.missed_share or 0), -r.missed, r.platform.name))
