"""Which reported URLs the statistics must fold again (`statistics_pending`), queued on the
named events of the features that change what a fact reads (disrupt/events.py), claimed by
the fold. Never commits.

Queuing upserts (ON CONFLICT DO UPDATE, not DO NOTHING): on PostgreSQL a writer whose URL
is being folded waits for the fold's row lock and queues it again after, so a change never
hides behind a fold that read the URL before it."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
from disrupt.dashboard.cells import in_batch
from disrupt.dashboard.models import PendingFold
from disrupt.db import upsert_insert
from disrupt.events import (
    case_classified,
    case_status_changed,
    checks_recorded,
    requests_changed,
    url_state_changed,
    urls_attached,
    urls_reported,
)
from disrupt.platforms.models import removal_request_urls

_CHUNK = 500


def _upsert(session: Session) -> Any:
    return upsert_insert(session.connection().dialect.name, PendingFold)


def _on_conflict(statement: Any) -> Any:
    return statement.on_conflict_do_update(
        index_elements=["reported_url_id"],
        set_={"reported_url_id": statement.excluded.reported_url_id})


def queue_urls(session: Session, url_ids: Iterable[int]) -> None:
    ids = sorted({i for i in url_ids if i is not None})
    if not ids:
        return
    # One statement text whatever the count (a VALUES list is compiled and parsed anew for
    # every batch of checks): an array parameter on PostgreSQL, executemany on SQLite.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        each = func.unnest(bindparam("url_ids", type_=postgresql.ARRAY(Integer)))
        statement = _upsert(session).from_select(["reported_url_id"], select(each))
        connection.execute(_on_conflict(statement), {"url_ids": ids})
    else:
        connection.execute(_on_conflict(_upsert(session)), [{"reported_url_id": i} for i in ids])


def _queue_select(session: Session, urls: Select[Any]) -> None:
    statement = _upsert(session).from_select(["reported_url_id"], urls)
    session.connection().execute(_on_conflict(statement))


def _urls_where(condition: ColumnElement[bool]) -> Select[Any]:
    # ORDER BY: rows locked in one order, so that two writers never wait crosswise.
    return select(ReportedURL.id).where(condition).order_by(ReportedURL.id)


def queue_everything(session: Session) -> int:
    """Every URL again (after a restore, or when a fold rule changed); returns how many."""
    _queue_select(session, _urls_where(literal_column("1") == 1))
    return count_pending(session)


def count_pending(session: Session) -> int:
    """URLs changed since they were last folded (what the figures do not include yet)."""
    return session.scalar(select(func.count()).select_from(PendingFold)) or 0


def claim(session: Session, limit: int) -> list[int]:
    """Up to `limit` pending URLs, locked for the fold (SKIP LOCKED on PostgreSQL; on SQLite
    the claim session holds the write lock)."""
    query = select(PendingFold.reported_url_id).order_by(PendingFold.reported_url_id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def folded(session: Session, url_ids: Iterable[int]) -> None:
    dialect = session.get_bind().dialect.name
    session.execute(delete(PendingFold).where(in_batch(PendingFold.reported_url_id, dialect)),
                    {"url_ids": list(url_ids)})


def _on_urls(_sender: Any, *, session: Session, url_ids: Iterable[int], **_: object) -> None:
    queue_urls(session, url_ids)


def _on_urls_reported(_case: Any, *, session: Session, urls: list[ReportedURL],
                      **_: object) -> None:
    queue_urls(session, [url.id for url in urls])


def _on_case(case: Case, *, session: Session, **_: object) -> None:
    _queue_select(session, _urls_where(ReportedURL.case_id == case.id))


def _on_requests(_sender: Any, *, session: Session, request_ids: Iterable[int],
                 **_: object) -> None:
    ids = sorted(set(request_ids))
    for start in range(0, len(ids), _CHUNK):
        linked = select(removal_request_urls.c.url_id).where(
            removal_request_urls.c.request_id.in_(ids[start:start + _CHUNK]))
        _queue_select(session, _urls_where(ReportedURL.id.in_(linked)))


def connect() -> None:
    urls_reported.connect(_on_urls_reported)
    checks_recorded.connect(_on_urls)
    url_state_changed.connect(_on_urls)
    urls_attached.connect(_on_urls)
    case_status_changed.connect(_on_case)
    case_classified.connect(_on_case)
    requests_changed.connect(_on_requests)
