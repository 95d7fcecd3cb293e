"""Fold dirty URLs into the statistics cells. Never commits: the caller (worker job, page
view, command) owns the transaction, on SQLite a claim session (write lock at BEGIN)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
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
from disrupt.dashboard.models import (
    FUNNEL_COUNTERS,
    TAKEDOWN_COUNTERS,
    TakedownFact,
    funnel_cells,
    takedown_cells,
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
    old_facts = [dict(row._mapping) for row in session.execute(
        select(TakedownFact.__table__).where(TakedownFact.reported_url_id.in_(url_ids)))]
    apply_facts(session, old_facts, new_facts)
    session.execute(update(ReportedURL).where(ReportedURL.id.in_(url_ids))
                    .values(stats_dirty=False))
    return len(url_ids)


def apply_facts(session: Session, old_facts: Iterable[dict[str, Any]],
                new_facts: Sequence[dict[str, Any]]) -> None:
    """Replace `old_facts` by `new_facts`, moving the cells by the difference."""
    old_facts = list(old_facts)
    takedown: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    funnel: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    deadlines: dict[tuple[Any, ...], int] = defaultdict(int)
    for sign, facts in ((-1, old_facts), (1, new_facts)):
        for fact in facts:
            contribution = takedown_contribution(fact)
            if contribution is not None:
                day_key, counters = contribution
                for key in _grain_keys(day_key):
                    for name, value in counters.items():
                        takedown[key][name] += sign * value
                    if sign > 0:
                        deadlines[key] = max(deadlines[key], fact["deadline_epoch"])
            day_key, counters = funnel_contribution(fact)
            for key in _grain_keys(day_key):
                for name, value in counters.items():
                    funnel[key][name] += sign * value
    _upsert(session, takedown_cells, TAKEDOWN_KEY, TAKEDOWN_COUNTERS, takedown, deadlines)
    _upsert(session, funnel_cells, FUNNEL_KEY, FUNNEL_COUNTERS, funnel, None)
    ids = [f["reported_url_id"] for f in old_facts]
    if ids:
        session.execute(delete(TakedownFact).where(TakedownFact.reported_url_id.in_(ids)))
    if new_facts:  # Core insert: one executemany ("insertmanyvalues"), not row by row
        session.execute(insert(TakedownFact.__table__), [{c: f[c] for c in FACT_COLUMNS}
                                                         for f in new_facts])


def _grain_keys(day_key: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    day, *dims = day_key
    return [("d", day, *dims), ("w", week_start(day), *dims), ("m", month_start(day), *dims)]


def _period_columns(day: date) -> dict[str, Any]:
    return {"week": week_start(day), "month": month_start(day), "year": day.year}


def _upsert(session: Session, table: Table, key_names: tuple[str, ...],
            counter_names: tuple[str, ...], deltas: dict[tuple[Any, ...], dict[str, int]],
            deadlines: dict[tuple[Any, ...], int] | None) -> None:
    rows = []
    for key in sorted(deltas, key=repr):  # one lock order for concurrent folds
        counters = deltas[key]
        if not any(counters.values()) and (deadlines is None or key not in deadlines):
            continue
        row = dict(zip(key_names, key, strict=True))
        row.update(_period_columns(row["day"]))
        row.update({name: counters.get(name, 0) for name in counter_names})
        if deadlines is not None:
            row["max_deadline_epoch"] = deadlines.get(key, 0)
        rows.append(row)
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    excluded = statement.excluded
    values = {name: table.c[name] + excluded[name] for name in counter_names}
    if deadlines is not None:
        bigger = func.greatest if dialect == "postgresql" else func.max
        values["max_deadline_epoch"] = bigger(table.c.max_deadline_epoch,
                                              excluded.max_deadline_epoch)
    session.execute(statement.on_conflict_do_update(index_elements=list(key_names),
                                                    set_=values), rows)
