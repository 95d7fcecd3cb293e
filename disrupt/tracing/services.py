"""Host traces in the database: which hosts need tracing, claims, results. Never commits."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from disrupt.cases.models import STOPPED_STATUSES, Case, ReportedURL
from disrupt.tracing.models import HostTrace
from disrupt.tracing.tracer import TraceResult


def list_new_hosts(session: Session, *, now: datetime, limit: int = 1000) -> int:
    """Give every host of a reported URL (of a case still worked on) a trace row, due now."""
    rows = session.execute(
        select(ReportedURL.host, func.min(ReportedURL.url))
        .join(Case, Case.id == ReportedURL.case_id)
        .where(Case.status.not_in(STOPPED_STATUSES), ReportedURL.host != "",
               ~exists().where(HostTrace.host == ReportedURL.host))
        .group_by(ReportedURL.host).limit(limit)).all()
    rows = [(host, origin_of(url)) for host, url in rows if origin_of(url)]
    if rows:
        session.execute(insert(HostTrace), [
            {"host": host, "origin": origin, "status": "pending", "addresses": [],
             "evidence": [], "problems": [], "next_trace_at": now} for host, origin in rows])
    return len(rows)


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"[:300]


def claim_hosts(session: Session, *, worker: str, now: datetime, limit: int,
                lease: timedelta) -> list[tuple[int, str, str]]:
    """Claim up to ``limit`` due hosts for ``worker`` (a crashed worker's claim expires)."""
    query = (select(HostTrace.id, HostTrace.host, HostTrace.origin)
             .where(HostTrace.next_trace_at <= now,
                    or_(HostTrace.claimed_until.is_(None), HostTrace.claimed_until < now))
             .order_by(HostTrace.next_trace_at, HostTrace.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = [(row.id, row.host, row.origin) for row in session.execute(query)]
    if rows:
        session.execute(update(HostTrace).where(HostTrace.id.in_([r[0] for r in rows]))
                        .values(claimed_by=worker, claimed_until=now + lease))
    return rows


def record_trace(session: Session, trace_id: int, result: TraceResult, *, worker: str,
                 now: datetime, ttl: timedelta, retry: timedelta) -> bool:
    """Store a result, only while ``worker`` still holds the claim. A failed or partial
    trace is tried again after ``retry`` (or the server's Retry-After)."""
    wait = ttl if result.status == "ok" else max(
        retry, timedelta(seconds=result.retry_after or 0))
    values: dict[str, Any] = {
        "status": result.status, "addresses": result.addresses, "network": result.network,
        "registrar": result.registrar, "cdn": result.cdn, "cdn_evidence": result.cdn_evidence,
        "evidence": result.evidence, "problems": result.problems, "traced_at": now,
        "next_trace_at": now + wait, "claimed_by": None, "claimed_until": None,
    }
    done = session.execute(update(HostTrace).where(
        and_(HostTrace.id == trace_id, HostTrace.claimed_by == worker)).values(**values))
    return bool(getattr(done, "rowcount", 0))


def traces_for_hosts(session: Session, hosts: set[str]) -> dict[str, HostTrace]:
    if not hosts:
        return {}
    return {t.host: t for t in session.scalars(select(HostTrace)
                                               .where(HostTrace.host.in_(hosts)))}
