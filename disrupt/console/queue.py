"""The caseworker queue: filters, counts per filter and one page, all in SQL.

Order: priority (minors first), then the earliest deadline of a removal request still
waiting for the platform, then the oldest case."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from disrupt.cases.models import PRIORITY_HIGH, PRIORITY_MINOR, PRIORITY_NORMAL, Case, ReportedURL
from disrupt.cases.services import unread_victim_messages
from disrupt.platforms.deadlines import overdue_clause
from disrupt.platforms.models import RemovalRequest

OPEN_STATUSES = ("new", "in_progress")
WAITING_REQUEST_STATUSES = ("sent", "acknowledged")  # the platform's deadline runs
SCOPES = ("all", "unassigned", "mine")
STATUS_CHOICES = ("open", "new", "in_progress", "closed", "withdrawn", "any")
PRIORITY_CHOICES = ("minor", "high", "normal")
AGE_CHOICES = {"24h": "opened in the last 24 h", "7d": "opened in the last 7 days",
               "older7d": "older than 7 days", "older30d": "older than 30 days"}
PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueFilter:
    scope: str = "all"
    status: str = "open"
    priority: str | None = None
    platform_id: int | None = None
    overdue: bool = False
    age: str | None = None

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments of this filter, with changes (for links)."""
        values = {"scope": self.scope, "status": self.status, "priority": self.priority,
                  "platform": self.platform_id, "overdue": "1" if self.overdue else None,
                  "age": self.age, **changes}
        return {k: v for k, v in values.items() if v not in (None, "", False)}


@dataclass(frozen=True)
class Viewer:
    user_id: int
    sees_all: bool


@dataclass
class QueueRow:
    case: Case
    deadline: datetime | None
    url_count: int = 0
    overdue: bool = False
    unread_messages: int = 0


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int] = field(default_factory=dict)


def _visible(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.sees_all:
        return true()
    return or_(Case.assignee_id.is_(None), Case.assignee_id == viewer.user_id)


def _scope(scope: str, viewer: Viewer) -> ColumnElement[bool]:
    if scope == "unassigned":
        return Case.assignee_id.is_(None)
    if scope == "mine":
        return Case.assignee_id == viewer.user_id
    return true()


def _status(status: str) -> ColumnElement[bool]:
    if status == "open":
        return Case.status.in_(OPEN_STATUSES)
    if status == "any":
        return Case.status != "erased"
    return Case.status == status


def _priority(priority: str | None) -> ColumnElement[bool]:
    if priority == "minor":
        return Case.priority == PRIORITY_MINOR
    if priority == "high":
        return Case.priority == PRIORITY_HIGH
    if priority == "normal":
        return Case.priority == PRIORITY_NORMAL
    return true()


def _age(age: str | None, now: datetime) -> ColumnElement[bool]:
    if age == "24h":
        return Case.created_at >= now - timedelta(hours=24)
    if age == "7d":
        return Case.created_at >= now - timedelta(days=7)
    if age == "older7d":
        return Case.created_at < now - timedelta(days=7)
    if age == "older30d":
        return Case.created_at < now - timedelta(days=30)
    return true()


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _deadlines(now: datetime) -> Any:
    """The earliest deadline a platform is still running on, per case, and whether one of
    the case's requests is overdue (platforms.deadlines.overdue_clause)."""
    return (
        select(RemovalRequest.case_id.label("case_id"),
               func.min(RemovalRequest.deadline_at).label("deadline"),
               func.max(case((overdue_clause(now), 1), else_=0)).label("overdue"))
        .where(RemovalRequest.status.in_(WAITING_REQUEST_STATUSES),
               RemovalRequest.deadline_at.is_not(None))
        .group_by(RemovalRequest.case_id)
        .subquery()
    )


def _on_platform(platform_id: int) -> Any:
    return (select(ReportedURL.case_id.label("case_id"))
            .where(ReportedURL.platform_id == platform_id).distinct().subquery())


def queue_counts(session: Session, where: QueueFilter, viewer: Viewer,
                 now: datetime) -> dict[str, int]:
    """Counts next to each filter, in one pass over the cases the viewer may see: each
    facet counted with the other active filters applied, and ``total`` with all of them.
    The deadline and platform are joined once, not probed once per facet."""
    deadlines = _deadlines(now)
    query = select(Case.id).select_from(Case).outerjoin(
        deadlines, deadlines.c.case_id == Case.id)
    platform: ColumnElement[bool] = true()
    if where.platform_id is not None:
        on_platform = _on_platform(where.platform_id)
        query = query.join(on_platform, on_platform.c.case_id == Case.id)
    is_overdue = deadlines.c.overdue == 1
    scope = _scope(where.scope, viewer)
    status = _status(where.status)
    priority = _priority(where.priority)
    overdue = is_overdue if where.overdue else true()
    age = _age(where.age, now)
    rest = and_(priority, overdue, age, platform)
    facets: dict[str, Any] = {"total": and_(scope, status, rest)}
    for name in SCOPES:
        facets[f"scope:{name}"] = and_(_scope(name, viewer), status, rest)
    for name in STATUS_CHOICES:
        facets[f"status:{name}"] = and_(scope, _status(name), rest)
    base = and_(scope, status, overdue, age, platform)
    for name in PRIORITY_CHOICES:
        facets[f"priority:{name}"] = and_(base, _priority(name))
    facets["overdue"] = and_(scope, status, priority, age, platform, is_overdue)
    for name in AGE_CHOICES:
        facets[f"age:{name}"] = and_(scope, status, priority, overdue, platform, _age(name, now))
    names = list(facets)
    row = session.execute(
        query.with_only_columns(
            *(_count(facets[n]).label(f"c{i}") for i, n in enumerate(names)))
        .where(_visible(viewer))
    ).one()
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def queue_page(session: Session, where: QueueFilter, viewer: Viewer, now: datetime, *,
               page: int = 1, per_page: int = PAGE_SIZE) -> QueuePage:
    counts = queue_counts(session, where, viewer, now)
    total = counts["total"]
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    deadlines = _deadlines(now)
    query = select(Case, deadlines.c.deadline, deadlines.c.overdue).outerjoin(
        deadlines, deadlines.c.case_id == Case.id)
    if where.platform_id is not None:
        on_platform = _on_platform(where.platform_id)
        query = query.join(on_platform, on_platform.c.case_id == Case.id)
    query = (
        query.where(_visible(viewer), _scope(where.scope, viewer), _status(where.status),
                    _priority(where.priority), _age(where.age, now),
                    deadlines.c.overdue == 1 if where.overdue else true())
        .order_by(Case.priority.desc(), deadlines.c.deadline.is_(None), deadlines.c.deadline,
                  Case.created_at, Case.id)
        .limit(per_page).offset((page - 1) * per_page)
    )
    rows = [QueueRow(case=c, deadline=d, overdue=bool(overdue))
            for c, d, overdue in session.execute(query).all()]
    if rows:
        url_counts = dict(session.execute(
            select(ReportedURL.case_id, func.count())
            .where(ReportedURL.case_id.in_([r.case.id for r in rows]))
            .group_by(ReportedURL.case_id)).all())
        unread = unread_victim_messages(session, [r.case.id for r in rows])
        for row in rows:
            row.url_count = url_counts.get(row.case.id, 0)
            row.unread_messages = unread.get(row.case.id, 0)
    return QueuePage(rows=rows, total=total, page=page, pages=pages, counts=counts)


def parse_filter(args: Any) -> QueueFilter:
    """From the query string; unknown values fall back to the default."""
    scope = args.get("scope", "all")
    status = args.get("status", "open")
    priority = args.get("priority") or None
    age = args.get("age") or None
    platform = args.get("platform", "")
    return QueueFilter(
        scope=scope if scope in SCOPES else "all",
        status=status if status in STATUS_CHOICES else "open",
        priority=priority if priority in PRIORITY_CHOICES else None,
        platform_id=int(platform) if str(platform).isdigit() else None,
        overdue=args.get("overdue") == "1",
        age=age if age in AGE_CHOICES else None,
    )


__all__ = ["QueueFilter", "QueuePage", "QueueRow", "Viewer", "parse_filter",
           "queue_counts", "queue_page"]
