"""Fold dirty URLs into the statistics cells. Never commits: the caller (worker job, page
view, command) owns the transaction, on SQLite a claim session (write lock at BEGIN)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, true, update
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
from disrupt.dashboard.cells import move_cells
from disrupt.dashboard.facts import SentRequest, URLRow, build_fact, first_request
from disrupt.dashboard.models import (
    TakedownFact,
)
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import Platform, RemovalRequest, removal_request_urls

FACT_COLUMNS = tuple(c.name for c in TakedownFact.__table__.columns)
TAKEDOWN_KEY = ("grain", "day", "platform_id", "legal_basis", "minor", "case_group")
FUNNEL_KEY = ("grain", "day", "platform_id", "minor", "case_group")


def pending_changes(session: Session) -> int:
    """URLs changed since they were last folded (what the figures do not include yet)."""
    return session.scalar(select(func.count()).select_from(ReportedURL)
                          .where(ReportedURL.stats_dirty == true())) or 0


def deadline_hours_by_platform(session: Session) -> dict[int, int]:
    return {pid: hours for pid, hours in session.execute(
        select(Platform.id, Platform.deadline_hours))}


def load_inputs(
    session: Session, url_ids: Sequence[int]
) -> tuple[list[URLRow], dict[int, SentRequest], dict[int, list[tuple[Any, str]]]]:
    """The URL rows, the first sent request of each and each URL's checks in time order.
    One table per query, each through its primary key or an index (a join here lets
    SQLite's planner scan the other table)."""
    rows = session.execute(
        select(ReportedURL.id, ReportedURL.created_at, ReportedURL.platform_id,
               ReportedURL.state, ReportedURL.reappeared, ReportedURL.case_id)
        .where(ReportedURL.id.in_(url_ids))).all()
    cases = {case_id: (status, age_group) for case_id, status, age_group in session.execute(
        select(Case.id, Case.status, Case.age_group)
        .where(Case.id.in_({row.case_id for row in rows})))}
    urls = [URLRow(r.id, r.created_at, r.platform_id, r.state, r.reappeared,
                   *cases[r.case_id]) for r in rows]
    links = session.execute(select(removal_request_urls.c.url_id,
                                   removal_request_urls.c.request_id)
                            .where(removal_request_urls.c.url_id.in_(url_ids))).all()
    requests = {row[0]: SentRequest(*row) for row in session.execute(
        select(RemovalRequest.id, RemovalRequest.sent_at, RemovalRequest.platform_id,
               RemovalRequest.legal_basis, RemovalRequest.deadline_at)
        .where(RemovalRequest.id.in_({request_id for _, request_id in links}),
               RemovalRequest.sent_at.is_not(None)))}
    sent: dict[int, list[SentRequest]] = defaultdict(list)
    for url_id, request_id in links:
        if request_id in requests:
            sent[url_id].append(requests[request_id])
    firsts = {url_id: first_request(found) for url_id, found in sent.items()}
    checks: dict[int, list[tuple[Any, str]]] = defaultdict(list)
    for url_id, checked_at, verdict in session.execute(
        select(URLCheck.reported_url_id, URLCheck.checked_at, URLCheck.verdict)
        .where(URLCheck.reported_url_id.in_(url_ids))
        .order_by(URLCheck.reported_url_id, URLCheck.checked_at, URLCheck.id)
    ):
        checks[url_id].append((checked_at, verdict))
    return urls, {k: v for k, v in firsts.items() if v is not None}, checks


def fold_statistics(session: Session, *, confirm_after: timedelta, limit: int = 2000) -> int:
    """Fold up to `limit` dirty URLs; returns how many. Safe to run in several processes at
    once: on PostgreSQL each batch is locked (SKIP LOCKED), on SQLite the write lock is held."""
    claim = (select(ReportedURL.id).where(ReportedURL.stats_dirty == true())
             .order_by(ReportedURL.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        claim = claim.with_for_update(skip_locked=True)
    url_ids = list(session.scalars(claim))
    if not url_ids:
        return 0
    urls, firsts, checks = load_inputs(session, url_ids)
    hours = deadline_hours_by_platform(session)
    new_facts = [build_fact(u, firsts.get(u.id), checks.get(u.id, ()),
                            confirm_after=confirm_after, deadline_hours=hours) for u in urls]
    replace_facts(session, url_ids, new_facts)
    session.execute(update(ReportedURL).where(ReportedURL.id.in_(url_ids))
                    .values(stats_dirty=False))
    return len(url_ids)


def replace_facts(session: Session, url_ids: Sequence[int],
                  new_facts: Sequence[dict[str, Any]]) -> None:
    """Replace the facts of ``url_ids`` by ``new_facts``, moving the cells by the difference
    (in SQL, see cells.py): subtract the old facts, swap them, add the new ones."""
    move_cells(session, url_ids, -1)
    session.execute(delete(TakedownFact).where(TakedownFact.reported_url_id.in_(url_ids)))
    if new_facts:  # Core insert: one executemany ("insertmanyvalues"), not row by row
        session.execute(insert(TakedownFact.__table__), [{c: f[c] for c in FACT_COLUMNS}
                                                         for f in new_facts])
    move_cells(session, url_ids, 1)
