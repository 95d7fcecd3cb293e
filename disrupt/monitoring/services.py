"""Claiming due URLs and recording checks under a lease. Never commits."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from disrupt.accounts.services import record_audit
from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.db import Database, utcnow
from disrupt.hashing.matching import HashRecord
from disrupt.monitoring import rules as R
from disrupt.monitoring.checker import CheckOutcome, CheckTarget, StoredFingerprint
from disrupt.monitoring.models import HostFingerprint, URLCheck
from disrupt.monitoring.schedule import next_check_at
from disrupt.monitoring.states import apply_verdict
from disrupt.platforms.models import Platform

STOPPED_CASE_STATUSES = ("withdrawn", "erased")


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

    def target(self) -> CheckTarget:
        return CheckTarget(self.url, self.hashes, self.rules)


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
        .where(_due(now), Case.status.not_in(STOPPED_CASE_STATUSES))
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
        select(ReportedURL.id, ReportedURL.url, ReportedURL.next_check_at, ReportedURL.host,
               ReportedURL.case_id, Platform.check_concurrency, Platform.check_spacing_seconds,
               Platform.removal_rules)
        .outerjoin(Platform, Platform.id == ReportedURL.platform_id)
        .where(ReportedURL.id.in_(ids))
        .order_by(ReportedURL.next_check_at, ReportedURL.id)
    ).all()
    hashes: dict[int, list[HashRecord]] = defaultdict(list)
    for h in session.execute(
        select(MediaHash.id, MediaHash.case_id, MediaHash.pdq, MediaHash.pdq_quality,
               MediaHash.phash, MediaHash.sha256)
        .where(MediaHash.case_id.in_({r.case_id for r in rows}), MediaHash.status == "active")
    ):
        hashes[h.case_id].append(HashRecord(h.id, h.pdq, h.pdq_quality, h.phash, h.sha256))
    return [
        ClaimedURL(id=r.id, url=r.url, due_at=r.next_check_at, host=r.host, case_id=r.case_id,
                   concurrency=r.check_concurrency, spacing=r.check_spacing_seconds,
                   rules=dict(r.removal_rules or {}), hashes=tuple(hashes[r.case_id]))
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


def _apply(session: Session, url: ReportedURL, claim: ClaimedURL, outcome: CheckOutcome, *,
           worker: str | None, now: datetime, confirm_after: timedelta,
           scale: float) -> URLCheck:
    check = log_check(session, url, outcome, due_at=claim.due_at, now=now, worker=worker)
    previous = url.state
    transition = apply_verdict(url, outcome.verdict, now=now, confirm_after=confirm_after,
                               reason=outcome.reason)
    if transition == "reappeared":
        alert_reappearance(session, url, outcome, now=now)
    if url.state != previous or outcome.verdict == "online":
        url.stats_dirty = True  # the dashboard's figures move (disrupt/dashboard)
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


def record_check(
    session: Session, claim: ClaimedURL, outcome: CheckOutcome, *, worker: str, now: datetime,
    confirm_after: timedelta, scale: float,
) -> URLCheck | None:
    """Write the check and the new state, only while `worker` still holds the lease for
    this due time; otherwise another worker took over and this result is dropped."""
    written = record_checks(session, [(claim, outcome)], worker=worker, now=now,
                            confirm_after=confirm_after, scale=scale)
    return written[0] if written else None


def record_checks(
    session: Session, results: Sequence[tuple[ClaimedURL, CheckOutcome]], *, worker: str,
    now: datetime, confirm_after: timedelta, scale: float,
) -> list[URLCheck]:
    """Batch form of :func:`record_check`: one transaction for many results. Rows are
    locked (PostgreSQL) and re-checked for the lease owner and the due time."""
    if not results:
        return []
    query = select(ReportedURL).where(
        ReportedURL.id.in_([claim.id for claim, _ in results]),
        ReportedURL.lease_owner == worker,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    held = {url.id: url for url in session.scalars(query)}
    written = []
    for claim, outcome in results:
        url = held.get(claim.id)
        if url is None or url.next_check_at != claim.due_at:
            continue
        written.append(_apply(session, url, claim, outcome, worker=worker, now=now,
                              confirm_after=confirm_after, scale=scale))
    return written


def alert_reappearance(session: Session, url: ReportedURL, outcome: CheckOutcome, *,
                       now: datetime) -> None:
    """A removed URL is online again: audit it and put the case back in the queue."""
    case = session.get(Case, url.case_id)
    if case is not None and case.status == "closed":
        case.status = "in_progress"
        case.closed_at = None
    if case is not None:
        case.updated_at = now
    record_audit(session, action="url_reappeared", now=now, actor_kind="system", record=url,
                 case_id=url.case_id, url=url.url, reason=outcome.reason)


def log_check(
    session: Session, url: ReportedURL, outcome: CheckOutcome, *, due_at: datetime,
    now: datetime, worker: str | None,
) -> URLCheck:
    check = URLCheck(
        reported_url_id=url.id,
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
    session.add(check)
    return check


def case_target(session: Session, url: str, reference: str | None) -> CheckTarget:
    """What `disrupt check-url --case REF` compares with: the case's active hashes, and
    the rules of the platform the URL belongs to."""
    from disrupt.cases.urlnorm import host_of
    from disrupt.platforms.services import platform_for_host

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

class DatabaseFingerprints:
    """Fingerprints in ``host_fingerprints`` (shared by all workers), with an in-process
    copy kept for at most ``memo_seconds``."""

    def __init__(self, db: Database, memo_seconds: float = 60.0) -> None:
        self.db = db
        self.memo_seconds = memo_seconds
        self._memo: dict[str, tuple[float, StoredFingerprint | None]] = {}
        self._lock = threading.Lock()

    def get(self, origin: str) -> StoredFingerprint | None:
        now = utcnow()
        with self._lock:
            memo = self._memo.get(origin)
        if memo is not None and memo[0] > time.monotonic():
            item = memo[1]
            return item if item is not None and item.expires_at > now else None
        with self.db.session() as session:
            row = session.scalar(select(HostFingerprint).where(HostFingerprint.origin == origin))
        item = _stored(row) if row is not None and row.expires_at > now else None
        if item is not None:
            with self._lock:
                self._memo[origin] = (time.monotonic() + self.memo_seconds, item)
        return item

    def put(self, fingerprint: StoredFingerprint) -> None:
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
        with self.db.session(claim=True) as session:
            if session.get_bind().dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            session.execute(
                insert(HostFingerprint).values(origin=fingerprint.origin, **values)
                .on_conflict_do_update(index_elements=["origin"], set_=values)
            )
            session.commit()
        with self._lock:
            self._memo[fingerprint.origin] = (time.monotonic() + self.memo_seconds, fingerprint)


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
