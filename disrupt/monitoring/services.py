"""Claiming due URLs and recording checks under a lease. Never commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
from disrupt.monitoring.checker import CheckOutcome
from disrupt.monitoring.models import URLCheck
from disrupt.monitoring.schedule import next_check_at
from disrupt.monitoring.states import apply_verdict

STOPPED_CASE_STATUSES = ("withdrawn", "erased")


@dataclass(frozen=True)
class ClaimedURL:
    id: int
    url: str
    due_at: datetime


def claim_due_urls(
    session: Session, *, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedURL]:
    """Lease up to `limit` due URLs to `worker`. Run in a claim session (write lock on SQLite,
    SKIP LOCKED on PostgreSQL) and commit at once."""
    due = (
        select(ReportedURL.id)
        .join(Case, Case.id == ReportedURL.case_id)
        .where(
            ReportedURL.next_check_at <= now,
            or_(ReportedURL.lease_expires_at.is_(None), ReportedURL.lease_expires_at < now),
            Case.status.not_in(STOPPED_CASE_STATUSES),
        )
        .order_by(ReportedURL.next_check_at, ReportedURL.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=ReportedURL, skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(ReportedURL)
        .where(ReportedURL.id.in_(ids))
        .values(lease_owner=worker, lease_expires_at=now + lease)
    )
    rows = session.execute(
        select(ReportedURL.id, ReportedURL.url, ReportedURL.next_check_at)
        .where(ReportedURL.id.in_(ids))
        .order_by(ReportedURL.next_check_at, ReportedURL.id)
    ).all()
    return [ClaimedURL(id=r.id, url=r.url, due_at=r.next_check_at) for r in rows]


def record_check(
    session: Session, claim: ClaimedURL, outcome: CheckOutcome, *, worker: str, now: datetime,
    confirm_after: timedelta, scale: float,
) -> URLCheck | None:
    """Write the check and the new state, only while `worker` still holds the lease for
    this due time; otherwise another worker took over and this result is dropped."""
    url = session.scalar(
        select(ReportedURL).where(
            ReportedURL.id == claim.id,
            ReportedURL.lease_owner == worker,
            ReportedURL.next_check_at == claim.due_at,
        )
    )
    if url is None:
        return None
    check = log_check(session, url, outcome, due_at=claim.due_at, now=now, worker=worker)
    apply_verdict(url, outcome.verdict, now=now, confirm_after=confirm_after,
                  reason=outcome.reason)
    url.next_check_at = next_check_at(
        state=url.state,
        reported_at=url.created_at,
        removed_at=url.removed_at,
        now=now,
        indeterminate_streak=url.indeterminate_streak,
        confirm_after=confirm_after,
        retry_after=outcome.retry_after,
        scale=scale,
    )
    url.lease_owner = None
    url.lease_expires_at = None
    return check


def log_check(
    session: Session, url: ReportedURL, outcome: CheckOutcome, *, due_at: datetime,
    now: datetime, worker: str | None,
) -> URLCheck:
    check = URLCheck(
        reported_url_id=url.id,
        due_at=due_at,
        checked_at=now,
        verdict=outcome.verdict,
        reason=outcome.reason[:200],
        http_status=outcome.http_status,
        final_url=(outcome.final_url or "")[:2048] or None,
        elapsed_ms=outcome.elapsed_ms,
        body_digest=outcome.body_digest,
        distance=outcome.distance,
        detector_version=outcome.detector_version,
        worker=worker,
    )
    session.add(check)
    return check
