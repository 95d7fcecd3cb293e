"""Per case, the deadline a platform is still running on and from when the case is overdue
(platforms.deadlines.overdue_clause, the case's status aside): read again whenever a
request is created, sent or answered (`announce_requests`, called by every such writer in
this feature) and when checks move an address in or out of "removed" (`checks_recorded`),
and announced (`waiting_deadline_changed`); the cases feature keeps them on the case for the
queue. Requests only enter or leave "sent"/"acknowledged" through those writers (the bulk
updates in services and erasure move drafts and queued ones to failed)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import ReportedURL
from disrupt.events import (
    checks_recorded,
    requests_changed,
    require_listeners,
    waiting_deadline_changed,
)
from disrupt.platforms.models import AWAITING_ACTION, RemovalRequest, removal_request_urls


def refresh_waiting(session: Session, case_ids: Iterable[int]) -> None:
    """Read the two deadlines of these cases again and announce them."""
    ids = sorted(set(case_ids))
    if not ids:
        return
    require_listeners(waiting_deadline_changed)
    waiting = (RemovalRequest.case_id.in_(ids), RemovalRequest.status.in_(AWAITING_ACTION),
               RemovalRequest.deadline_at.is_not(None))
    url_up = exists().where(removal_request_urls.c.request_id == RemovalRequest.id,
                            removal_request_urls.c.url_id == ReportedURL.id,
                            ReportedURL.state != "removed")
    first = func.min(RemovalRequest.deadline_at)
    connection = session.connection()
    deadlines: dict[int, datetime] = dict(connection.execute(
        select(RemovalRequest.case_id, first).where(*waiting)
        .group_by(RemovalRequest.case_id)).all())
    overdue: dict[int, datetime] = dict(connection.execute(
        select(RemovalRequest.case_id, first)
        .where(*waiting, RemovalRequest.sent_at.is_not(None), url_up)
        .group_by(RemovalRequest.case_id)).all())
    for case_id in ids:
        waiting_deadline_changed.send(case_id, session=session, deadline=deadlines.get(case_id),
                                      overdue_from=overdue.get(case_id))


def announce_requests(session: Session, requests: Iterable[RemovalRequest], *,
                      now: datetime) -> None:
    """Requests were created, sent or answered: their cases' deadlines are read again and
    the other features hear of it (`requests_changed`). Every writer of what those read
    (status, sent time, deadline, platform, legal basis, addresses) calls this."""
    changed = list(requests)
    session.flush()
    refresh_waiting(session, {request.case_id for request in changed})
    require_listeners(requests_changed)
    requests_changed.send(None, session=session, now=now,
                          request_ids=[request.id for request in changed])


def _on_checks_recorded(_sender: object, *, session: Session, removal_moved: Iterable[int],
                        **_: object) -> None:
    refresh_waiting(session, removal_moved)


def connect() -> None:
    checks_recorded.connect(_on_checks_recorded)
