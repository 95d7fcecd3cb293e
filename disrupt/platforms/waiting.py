"""Per case, the deadline a platform is still running on and from when the case is overdue
(platforms.deadlines.overdue_clause, the case's status aside): read again after every
flush that adds, changes or deletes a removal request or moves an address in or out of
"removed", and announced (`waiting_deadline_changed`); the cases feature keeps them on the
case for the queue. Requests only enter or leave "sent"/"acknowledged" through the ORM (the
bulk updates in services and erasure move drafts and queued ones to failed); the worker's
batched checks, which bypass the ORM, call `refresh_waiting` for the addresses they move."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import event, exists, func, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from disrupt.cases.models import ReportedURL
from disrupt.events import require_listeners, waiting_deadline_changed
from disrupt.platforms.models import AWAITING_ACTION, RemovalRequest, removal_request_urls

_WATCHED = ("status", "deadline_at", "sent_at", "case_id", "urls")


def _changed(obj: Any, names: Iterable[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _removal_moved(url: ReportedURL) -> bool:
    history = inspect(url).attrs.state.history
    before = [*history.deleted, *history.unchanged]
    return bool(history.added) and (
        not before or (before[0] == "removed") != (history.added[0] == "removed"))


def _touched_cases(session: Session) -> set[int]:
    cases: set[int] = set()
    for obj in session.new:
        if isinstance(obj, RemovalRequest):
            cases.add(obj.case_id)
    for obj in session.dirty:
        if isinstance(obj, RemovalRequest) and _changed(obj, _WATCHED):
            history = inspect(obj).attrs.case_id.history
            cases.update((*history.deleted, obj.case_id))
        elif isinstance(obj, ReportedURL) and _removal_moved(obj):
            cases.add(obj.case_id)
    for obj in session.deleted:
        if isinstance(obj, RemovalRequest | ReportedURL):
            cases.add(inspect(obj).dict.get("case_id", 0))
    return {c for c in cases if isinstance(c, int) and c}


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


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    refresh_waiting(session, _touched_cases(session))


def connect() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
