"""Claiming due URLs and recording checks under a lease. Never commits."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from disrupt.accounts.services import record_audit
from disrupt.cases.models import STOPPED_STATUSES, Case, MediaHash, ReportedURL
from disrupt.cases.services import mark_news, reopen_for_new_urls
from disrupt.db import in_id_list
from disrupt.events import checks_recorded, picture_seen_online, require_listeners
from disrupt.hashing.matching import HashRecord
from disrupt.monitoring import rules as R
from disrupt.monitoring.checker import CheckOutcome, CheckTarget, StoredFingerprint
from disrupt.monitoring.models import HostFingerprint, URLCheck
from disrupt.monitoring.schedule import next_check_at
from disrupt.monitoring.states import apply_verdict
from disrupt.platforms.models import Platform


@dataclass(frozen=True)
class ClaimedURL:
    id: int
    url: str
    due_at: datetime
    host: str = ""
    case_id: int | None = None
    concurrency: int | None = None
    spacing: float | None = None
    rules: dict[str, Any] = field(default_factory=dict)
    hashes: tuple[HashRecord, ...] = ()
    seen_matching: bool = False

    def target(self) -> CheckTarget:
        return CheckTarget(self.url, self.hashes, self.rules, seen_matching=self.seen_matching)


def _due(now: datetime) -> Any:
    return and_(
        ReportedURL.next_check_at <= now,
        or_(ReportedURL.lease_expires_at.is_(None), ReportedURL.lease_expires_at < now),
    )


def claim_due_urls(
    session: Session, *, worker: str, now: datetime, lease: timedelta, limit: int,
    per_host: int | None = None, skip_hosts: Collection[str] = (),
) -> list[ClaimedURL]:
    """Lease up to `limit` due URLs (at most `per_host` of one host, none of `skip_hosts`)
    to `worker`. Run in a claim session (write lock on SQLite, SKIP LOCKED on PostgreSQL)
    and commit at once."""
    candidates = (
        select(ReportedURL.id)
        .join(Case, Case.id == ReportedURL.case_id)
        .where(_due(now), Case.status.not_in(STOPPED_STATUSES))
    )
    if skip_hosts:
        candidates = candidates.where(ReportedURL.host.not_in(list(skip_hosts)))
    if per_host:
        ranked = candidates.add_columns(
            func.row_number().over(
                partition_by=ReportedURL.host,
                order_by=(ReportedURL.next_check_at, ReportedURL.id),
            ).label("rank")
        ).subquery()
        candidates = select(ranked.c.id).where(ranked.c.rank <= per_host)
    # The due condition again on the outer query: PostgreSQL re-checks it on rows that
    # another worker claimed between our snapshot and our lock.
    due = (
        select(ReportedURL.id)
        .where(ReportedURL.id.in_(candidates), _due(now))
        .order_by(ReportedURL.next_check_at, ReportedURL.id)
        .limit(limit)
    )
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        due = due.with_for_update(of=ReportedURL, skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(ReportedURL)
        .where(in_id_list(ReportedURL.id, dialect, "ids"))
        .values(lease_owner=worker, lease_expires_at=now + lease),
        {"ids": ids},
    )
    return _claimed(session, ids, dialect)


def _claimed(session: Session, ids: list[int], dialect: str) -> list[ClaimedURL]:
    """What a check needs of each leased URL: its platform's rules and its case's hashes."""
    rows = session.execute(
        select(ReportedURL.id, ReportedURL.url, ReportedURL.next_check_at, ReportedURL.host,
               ReportedURL.case_id, Platform.check_concurrency, Platform.check_spacing_seconds,
               Platform.removal_rules, ReportedURL.picture_confirmed_at)
        .outerjoin(Platform, Platform.id == ReportedURL.platform_id)
        .where(in_id_list(ReportedURL.id, dialect, "ids"))
        .order_by(ReportedURL.next_check_at, ReportedURL.id),
        {"ids": ids},
    ).all()
    hashes: dict[int, list[HashRecord]] = defaultdict(list)
    for h in session.execute(
        select(MediaHash.id, MediaHash.case_id, MediaHash.pdq, MediaHash.pdq_quality,
               MediaHash.phash, MediaHash.sha256)
        .where(in_id_list(MediaHash.case_id, dialect, "ids"), MediaHash.status == "active"),
        {"ids": sorted({r.case_id for r in rows})},
    ):
        hashes[h.case_id].append(HashRecord(h.id, h.pdq, h.pdq_quality, h.phash, h.sha256))
    return [
        ClaimedURL(id=r.id, url=r.url, due_at=r.next_check_at, host=r.host, case_id=r.case_id,
                   concurrency=r.check_concurrency, spacing=r.check_spacing_seconds,
                   rules=dict(r.removal_rules or {}), hashes=tuple(hashes[r.case_id]),
                   seen_matching=r.picture_confirmed_at is not None)
        for r in rows
    ]


def release_claims(session: Session, claims: Sequence[ClaimedURL], *, worker: str) -> None:
    """Give back claims this worker will not check (others may take them at once)."""
    if claims:
        session.execute(
            update(ReportedURL)
            .where(ReportedURL.id.in_([c.id for c in claims]),
                   ReportedURL.lease_owner == worker)
            .values(lease_owner=None, lease_expires_at=None)
        )


# Columns of reported_urls a check reads and writes (the state machine, the schedule, the
# lease). Written with one executemany UPDATE per batch: ORM objects cost more CPU per check
# than the check's own HTTP request.
_STATE_COLUMNS = (
    "state", "state_reason", "reappeared", "reappeared_at", "check_count",
    "indeterminate_streak", "first_seen_online_at", "last_seen_online_at",
    "removal_suspected_at", "removed_at", "last_checked_at", "picture_confirmed_at",
    "network_failing_since",
)
_READ_COLUMNS = ("id", "case_id", "url", "created_at", "next_check_at", *_STATE_COLUMNS)


class URLState:
    """The monitoring columns of one ReportedURL as a plain object: what
    :func:`~disrupt.monitoring.states.apply_verdict` and the schedule work on when a
    batch is written without ORM objects."""

    __slots__ = _READ_COLUMNS

    def __init__(self, row: Any) -> None:
        for name, value in zip(_READ_COLUMNS, row, strict=True):
            setattr(self, name, value)


@dataclass(frozen=True)
class RecordedCheck:
    """What was written for one check."""

    reported_url_id: int
    due_at: datetime
    verdict: str
    state: str
    transition: str
    next_check_at: datetime | None


def _apply(url: URLState, outcome: CheckOutcome, *, now: datetime, confirm_after: timedelta,
           scale: float, invalid_after: timedelta | None, removal_moved: set[int]) -> str:
    """Apply the verdict; a case whose address went in or out of "removed" is added to
    ``removal_moved`` (its overdue requests may change: platforms.waiting)."""
    was_removed = url.state == "removed"
    transition = apply_verdict(url, outcome.verdict, now=now,
                               confirm_after=confirm_after, reason=outcome.reason,
                               rule=outcome.rule, invalid_after=invalid_after)
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
    if (url.state == "removed") != was_removed:
        removal_moved.add(url.case_id)
    return transition


def record_check(
    session: Session, claim: ClaimedURL, outcome: CheckOutcome, *, worker: str, now: datetime,
    confirm_after: timedelta, scale: float, invalid_after: timedelta | None = None,
) -> RecordedCheck | None:
    """Write the check and the new state, only while `worker` still holds the lease for
    this due time; otherwise another worker took over and this result is dropped.
    `invalid_after`: how long network failures may last before the URL is invalid."""
    written = record_checks(session, [(claim, outcome)], worker=worker, now=now,
                            confirm_after=confirm_after, scale=scale,
                            invalid_after=invalid_after)
    return written[0] if written else None


def _held_by(session: Session, url_ids: list[int], worker: str) -> dict[int, URLState]:
    """The state of the URLs this worker still leases, locked for the batch (PostgreSQL;
    SQLite's write lock is held from BEGIN IMMEDIATE)."""
    table = ReportedURL.__table__
    dialect = session.get_bind().dialect.name
    query = select(*(table.c[name] for name in _READ_COLUMNS)).where(
        in_id_list(table.c.id, dialect, "ids"), table.c.lease_owner == worker)
    if dialect == "postgresql":
        query = query.with_for_update()
    return {url.id: url for url in map(URLState, session.execute(query, {"ids": url_ids}))}


def _unnest(table: Any, params: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """PostgreSQL: ``unnest`` of one array parameter per (parameter, column of ``table``)
    pair, as a row source ``v`` with a column per parameter, and those columns cast back to
    the table's types (JSON travels as text: an array of JSON has no psycopg dumper)."""
    dialect = postgresql.dialect()
    arrays, columns = [], []
    for param, name in params:
        sql_type = table.c[name].type.compile(dialect=dialect)
        as_text = sql_type == "JSON"
        # No length in the array's type: a cast would cut a long value where the column
        # refuses it.
        array_type = "TEXT" if as_text else re.sub(r"\(\d+\)", "", sql_type)
        arrays.append(f"%({param})b::{array_type}[]")  # b: psycopg's binary dumpers, in C
        columns.append(f"v.{param}::{sql_type}" if as_text else f"v.{param}")
    names = ", ".join(param for param, _ in params)
    return f"unnest({', '.join(arrays)}) AS v({names})", columns


#: Columns of a url_checks row (check_row's keys) and of the new state of a URL.
_LOG_COLUMNS = tuple(c.name for c in URLCheck.__table__.columns if c.name != "id")
_NEW_STATE = (*_STATE_COLUMNS, "next_check_at")


def _pg_batch_sql() -> tuple[str, str]:
    """The batch's INSERT of check rows and UPDATE of states on PostgreSQL, each one
    statement with an array parameter per column whatever the batch's size (psycopg's
    executemany spends more CPU per row than the check's own HTTP request); the UPDATE
    has the conditions of the executemany form."""
    logs = URLCheck.__table__
    source, columns = _unnest(logs, [(name, name) for name in _LOG_COLUMNS])
    insert_sql = (f"INSERT INTO {logs.name} ({', '.join(_LOG_COLUMNS)}) "
                  f"SELECT {', '.join(columns)} FROM {source}")
    urls = ReportedURL.__table__
    source, columns = _unnest(urls, [("b_id", "id"), ("b_due", "next_check_at"),
                                     *((name, name) for name in _NEW_STATE)])
    assignments = ", ".join(f"{name} = {column}"
                            for name, column in zip(_NEW_STATE, columns[2:], strict=True))
    update_sql = (f"UPDATE {urls.name} SET {assignments}, lease_owner = NULL, "
                  f"lease_expires_at = NULL FROM {source} WHERE {urls.name}.id = v.b_id "
                  f"AND {urls.name}.lease_owner = %(b_worker)s "
                  f"AND {urls.name}.next_check_at = v.b_due")
    return insert_sql, update_sql


_PG_INSERT_CHECKS, _PG_UPDATE_STATES = _pg_batch_sql()


def _columns(rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


def _write_batch(session: Session, logs: list[dict[str, Any]], states: list[dict[str, Any]],
                 worker: str) -> None:
    """The check log rows and the new states, one statement each (PostgreSQL: arrays; SQLite:
    executemany); a URL whose lease or due time moved meanwhile is left as it is."""
    table = ReportedURL.__table__
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        arrays = _columns(logs, _LOG_COLUMNS)
        arrays["redirect_chain"] = [json.dumps(chain) for chain in arrays["redirect_chain"]]
        connection.exec_driver_sql(_PG_INSERT_CHECKS, arrays)
        arrays = _columns(states, ("b_id", "b_due", *_NEW_STATE))
        arrays["b_worker"] = worker
        connection.exec_driver_sql(_PG_UPDATE_STATES, arrays)
        return
    connection.execute(insert(URLCheck.__table__), logs)
    connection.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == worker,
               table.c.next_check_at == bindparam("b_due"))
        # The SET clause also takes every column named in the parameters (the state).
        .values(lease_owner=None, lease_expires_at=None),
        states,
    )


def record_checks(
    session: Session, results: Sequence[tuple[ClaimedURL, CheckOutcome]], *, worker: str,
    now: datetime, confirm_after: timedelta, scale: float, invalid_after: timedelta | None = None,
) -> list[RecordedCheck]:
    """Batch form of :func:`record_check`: one transaction for many results. Rows are
    locked (PostgreSQL; SQLite's write lock is held from BEGIN IMMEDIATE) and re-checked
    for the lease owner and the due time; the log rows and the new states are written
    with one executemany each."""
    if not results:
        return []
    held = _held_by(session, [claim.id for claim, _ in results], worker)
    written: list[RecordedCheck] = []
    logs: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    reappeared: list[tuple[URLState, CheckOutcome]] = []
    first_seen: list[tuple[URLState, CheckOutcome]] = []
    news: set[int] = set()
    removal_moved: set[int] = set()
    for claim, outcome in results:
        url = held.pop(claim.id, None)  # pop: a URL twice in one batch is written once
        if url is None or url.next_check_at != claim.due_at:
            continue
        unconfirmed = url.picture_confirmed_at is None
        transition = _apply(url, outcome, now=now, confirm_after=confirm_after, scale=scale,
                            invalid_after=invalid_after, removal_moved=removal_moved)
        if unconfirmed and url.picture_confirmed_at is not None and url.state == "online":
            first_seen.append((url, outcome))
        if transition == "reappeared":
            reappeared.append((url, outcome))
        if transition in ("removed", "reappeared"):
            news.add(url.case_id)
        logs.append(check_row(url.id, outcome, due_at=claim.due_at, now=now, worker=worker))
        values = {name: getattr(url, name) for name in _STATE_COLUMNS}
        values.update(b_id=url.id, b_due=claim.due_at, next_check_at=url.next_check_at)
        states.append(values)
        written.append(RecordedCheck(url.id, claim.due_at, outcome.verdict, url.state,
                                     transition, url.next_check_at))
    if not logs:
        return []
    _write_batch(session, logs, states, worker)
    require_listeners(checks_recorded)
    checks_recorded.send(None, session=session, now=now,
                         url_ids=[r.reported_url_id for r in written], removal_moved=removal_moved)
    mark_news(session, news, now=now)
    for url, outcome in reappeared:
        alert_reappearance(session, url, outcome, now=now)
    for url, outcome in first_seen:
        picture_seen_online.send(url.case_id, session=session, now=now,
                                 reported_url_id=url.id, url=url.url, outcome=outcome)
    return written


def alert_reappearance(session: Session, url: URLState | ReportedURL, outcome: CheckOutcome, *,
                       now: datetime) -> None:
    """A removed URL is online again: audit it and put the case back in the queue."""
    case = session.get(Case, url.case_id)
    if case is not None:
        reopen_for_new_urls(session, case, now)
    record_audit(session, action="url_reappeared", now=now, actor_kind="system",
                 record=session.get(ReportedURL, url.id), case_id=url.case_id, url=url.url,
                 reason=outcome.reason)


def check_row(reported_url_id: int, outcome: CheckOutcome, *, due_at: datetime, now: datetime,
              worker: str | None) -> dict[str, Any]:
    """The url_checks row of one check (the evidence)."""
    return dict(
        reported_url_id=reported_url_id,
        due_at=due_at,
        checked_at=now,
        verdict=outcome.verdict,
        rule=outcome.rule,
        reason=outcome.reason[:200],
        http_status=outcome.http_status,
        final_url=(outcome.final_url or "")[:2048] or None,
        redirect_chain=[[u[:2048], s] for u, s in outcome.redirect_chain] or None,
        content_type=outcome.content_type,
        truncated=outcome.truncated,
        elapsed_ms=outcome.elapsed_ms,
        body_digest=outcome.body_digest,
        media_url=(outcome.media_url or "")[:2048] or None,
        media_digest=outcome.media_digest,
        distance=outcome.distance,
        retry_after_seconds=int(outcome.retry_after.total_seconds())
        if outcome.retry_after is not None else None,
        peer_ip=outcome.peer_ip,
        detector_version=outcome.detector_version,
        worker=worker,
    )


def case_target(session: Session, url: str, reference: str | None) -> CheckTarget:
    """What `disrupt check-url --case REF` compares with: the case's active hashes, and
    the rules of the platform the URL belongs to."""
    from disrupt.platforms.services import platform_for_host
    from disrupt.urls.normalize import host_of

    hashes: tuple[HashRecord, ...] = ()
    if reference is not None:
        case = session.scalar(select(Case).where(Case.reference == reference))
        if case is None:
            raise LookupError(f"no case with reference {reference!r}")
        hashes = tuple(HashRecord(h.id, h.pdq, h.pdq_quality, h.phash, h.sha256)
                       for h in case.hashes if h.status == "active")
    platform = platform_for_host(session, host_of(url))
    return CheckTarget(url, hashes, dict(platform.removal_rules or {}) if platform else {})


# -- soft-404 fingerprints shared through the database ----------------------------------

def read_fingerprint(session: Session, origin: str, now: datetime) -> StoredFingerprint | None:
    """The live fingerprint of ``origin`` in ``host_fingerprints``, or None."""
    row = session.scalar(select(HostFingerprint).where(HostFingerprint.origin == origin))
    return _stored(row) if row is not None and row.expires_at > now else None


def store_fingerprint(session: Session, fingerprint: StoredFingerprint) -> None:
    """Insert or replace the fingerprint of its origin (in the caller's transaction)."""
    page = fingerprint.page
    values = dict(
        probe_url=fingerprint.probe_url[:2048], kind=fingerprint.kind,
        status=fingerprint.status,
        final_url=page.final_url[:2048] if page else None,
        redirected=page.redirected if page else False,
        text_simhash=page.text_simhash if page else None,
        text_digest=page.text_digest if page else None,
        text_words=page.words if page else 0,
        body_digest=page.body_digest if page else None,
        probed_at=fingerprint.probed_at, expires_at=fingerprint.expires_at,
    )
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(
        insert(HostFingerprint).values(origin=fingerprint.origin, **values)
        .on_conflict_do_update(index_elements=["origin"], set_=values)
    )


def _stored(row: HostFingerprint) -> StoredFingerprint:
    page = None
    if row.kind == "soft404":
        page = R.PageFingerprint(
            final_url=row.final_url or "", redirected=row.redirected,
            text_simhash=row.text_simhash, text_digest=row.text_digest,
            body_digest=row.body_digest, words=row.text_words,
        )
    return StoredFingerprint(origin=row.origin, probe_url=row.probe_url, kind=row.kind,
                             status=row.status, page=page, probed_at=row.probed_at,
                             expires_at=row.expires_at)
