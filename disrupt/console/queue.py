"""The caseworker queue: filters, counts per filter and one page, none of them reading the
whole backlog (counts from the case tallies or capped, pages along an index).

Order: priority (minors first), then the earliest deadline of a removal request still
waiting for the platform (`cases.waiting_deadline`), then the oldest case."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, select, true
from sqlalchemy.orm import Session

from disrupt.cases.models import (
    PRIORITY_HIGH,
    PRIORITY_MINOR,
    PRIORITY_NORMAL,
    STOPPED_STATUSES,
    Case,
    ReportedURL,
)
from disrupt.cases.services import unread_victim_messages
from disrupt.cases.tallies import read_tallies

OPEN_STATUSES = ("new", "in_progress")
SCOPES = ("all", "unassigned", "mine")
STATUS_CHOICES = ("open", "new", "in_progress", "closed", "withdrawn", "any")
PRIORITY_CHOICES = ("minor", "high", "normal")
AGE_CHOICES = {"24h": "opened in the last 24 h", "7d": "opened in the last 7 days",
               "older7d": "older than 7 days", "older30d": "older than 30 days"}
PAGE_SIZE = 50
RECENT_AGES = ("24h", "7d")
COUNT_CAP = 500
PRIORITIES = {"minor": PRIORITY_MINOR, "high": PRIORITY_HIGH, "normal": PRIORITY_NORMAL}
#: As the indexes on `cases` hold it (cases.models), so that a page is read, not sorted.
QUEUE_ORDER = (Case.priority.desc(), Case.waiting_deadline.is_(None), Case.waiting_deadline,
               Case.created_at, Case.id)


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


def _assignee() -> ColumnElement[int]:
    """The assignee (0: nobody) as an expression: the index on `assignee_id` cannot serve it,
    so that a caseworker's or the unassigned cases, possibly a large part of the backlog,
    are read along the queue's order (the indexes hold the assignee) instead of being
    fetched one by one and sorted (SQLite without statistics would)."""
    return func.coalesce(Case.assignee_id, 0)


def _visible(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.sees_all:
        return true()
    return _assignee().in_([0, viewer.user_id])


def _scope(scope: str, viewer: Viewer) -> ColumnElement[bool]:
    if scope == "unassigned":
        return _assignee() == 0
    if scope == "mine":
        return _assignee() == viewer.user_id
    return true()


def _status(status: str) -> ColumnElement[bool]:
    """Written into the SQL, not bound, and always with the condition of one of the partial
    indexes in the queue's order (cases.models): SQLite, which has no statistics unless
    someone runs ANALYZE, then has only that index to choose, and never sorts the backlog."""
    is_open = Case.status.in_([literal(s, literal_execute=True) for s in OPEN_STATUSES])
    if status == "open":
        return is_open
    not_erased = Case.status != literal("erased", literal_execute=True)
    if status == "any":
        return not_erased
    return and_(is_open if status in OPEN_STATUSES else not_erased,
                Case.status == literal(status, literal_execute=True))


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


class Count(int):
    """A count next to a filter. ``capped`` when counting stopped at COUNT_CAP + 1 cases:
    the page then says "500+" instead of counting the whole backlog."""

    capped: bool = False

    def __new__(cls, value: int, capped: bool = False) -> Count:
        count = super().__new__(cls, value)
        count.capped = capped
        return count

    def __str__(self) -> str:
        return f"{COUNT_CAP}+" if self.capped else int.__repr__(self)

    __html__ = __str__


def _overdue(now: datetime) -> ColumnElement[bool]:
    """SQL: one of the case's requests is overdue (platforms.deadlines.overdue_clause), read
    from the case: `overdue_from` (kept by platforms.waiting) is past, the case not stopped."""
    return and_(Case.overdue_from < now, Case.status.not_in(STOPPED_STATUSES))


def _is_overdue(case: Case, overdue_from: datetime | None, now: datetime) -> bool:
    return overdue_from is not None and overdue_from < now and \
        case.status not in STOPPED_STATUSES


def _on_platform(platform_id: int | None) -> ColumnElement[bool]:
    if platform_id is None:
        return true()
    # coalesce: probed by case (a few addresses each), never by platform (all of its own).
    return exists().where(ReportedURL.case_id == Case.id,
                          func.coalesce(ReportedURL.platform_id, 0) == platform_id)


def _bounded(session: Session, *conditions: ColumnElement[bool]) -> Count:
    """How many cases match, counted up to COUNT_CAP + 1 only."""
    first = select(Case.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    n = session.scalar(select(func.count()).select_from(first)) or 0
    return Count(n, capped=n > COUNT_CAP)


def _tallied(session: Session, where: QueueFilter, viewer: Viewer) -> dict[str, int]:
    """Scope, status and priority counts from the case tallies (cases.tallies): a read of
    a few rows, whatever the backlog."""
    def scope(name: str, assignee: int) -> bool:
        return (name == "all" or (name == "unassigned" and assignee == 0)
                or (name == "mine" and assignee == viewer.user_id))

    def status(name: str, value: str) -> bool:
        if name == "open":
            return value in OPEN_STATUSES
        return value != "erased" if name == "any" else value == name

    def priority(name: str | None, value: int) -> bool:
        return name is None or value == PRIORITIES[name]

    facets: dict[str, Any] = {"total": lambda s, p, a: scope(where.scope, a) and status(
        where.status, s) and priority(where.priority, p)}
    for name in SCOPES:
        facets[f"scope:{name}"] = lambda s, p, a, n=name: scope(n, a) and status(
            where.status, s) and priority(where.priority, p)
    for name in STATUS_CHOICES:
        facets[f"status:{name}"] = lambda s, p, a, n=name: scope(where.scope, a) and status(
            n, s) and priority(where.priority, p)
    for name in PRIORITY_CHOICES:
        facets[f"priority:{name}"] = lambda s, p, a, n=name: scope(where.scope, a) and status(
            where.status, s) and priority(n, p)
    tallies = [(key, n) for key, n in read_tallies(session).items()
               if viewer.sees_all or key[2] in (0, viewer.user_id)]
    return {name: Count(sum(n for key, n in tallies if test(*key)))
            for name, test in facets.items()}


def queue_counts(session: Session, where: QueueFilter, viewer: Viewer,
                 now: datetime) -> dict[str, int]:
    """Counts next to each filter, each facet counted with the other active filters applied
    and ``total`` with all of them. Scope, status and priority come from the tallies; what
    depends on the time or on a case's requests and addresses (overdue, age, platform) is
    counted in SQL up to COUNT_CAP + 1 cases (``Count.capped``)."""
    scope, status = _scope(where.scope, viewer), _status(where.status)
    priority, age = _priority(where.priority), _age(where.age, now)
    overdue = _overdue(now) if where.overdue else true()
    platform = _on_platform(where.platform_id)
    visible = _visible(viewer)
    if not (where.overdue or where.age or where.platform_id is not None):
        counts = _tallied(session, where, viewer)
    else:
        rest = and_(priority, overdue, age, platform)
        counts = {"total": _bounded(session, visible, scope, status, rest)}
        for name in SCOPES:
            counts[f"scope:{name}"] = _bounded(session, visible, _scope(name, viewer), status,
                                               rest)
        for name in STATUS_CHOICES:
            counts[f"status:{name}"] = _bounded(session, visible, scope, _status(name), rest)
        for name in PRIORITY_CHOICES:
            counts[f"priority:{name}"] = _bounded(session, visible, scope, status, overdue,
                                                  age, platform, _priority(name))
    counts["overdue"] = _bounded(session, visible, scope, status, priority, age, platform,
                                 _overdue(now))
    for name in AGE_CHOICES:
        counts[f"age:{name}"] = _bounded(session, visible, scope, status, priority, overdue,
                                         platform, _age(name, now))
    return counts


def _page_rows(session: Session, where: QueueFilter, viewer: Viewer, now: datetime,
               offset: int, limit: int) -> list[QueueRow]:
    order: tuple[Any, ...] = QUEUE_ORDER
    if where.age in RECENT_AGES:
        # A week of cases at most: found by date and sorted, rather than sought along the
        # whole queue's order (the "+ 0" keeps its index from being chosen).
        order = ((Case.priority + 0).desc(), *QUEUE_ORDER[1:])
    query = (
        select(Case, Case.waiting_deadline, Case.overdue_from)
        .where(_visible(viewer), _scope(where.scope, viewer), _status(where.status),
               _priority(where.priority), _age(where.age, now),
               _overdue(now) if where.overdue else true(), _on_platform(where.platform_id))
        .order_by(*order).limit(limit).offset(offset)
    )
    return [QueueRow(case=c, deadline=d, overdue=_is_overdue(c, overdue_from, now))
            for c, d, overdue_from in session.execute(query).all()]


def _annotate(session: Session, rows: list[QueueRow]) -> None:
    """Per shown row, in one query each: addresses, unread messages."""
    ids = [r.case.id for r in rows]
    url_counts = dict(session.execute(
        select(ReportedURL.case_id, func.count())
        .where(ReportedURL.case_id.in_(ids)).group_by(ReportedURL.case_id)).all())
    unread = unread_victim_messages(session, ids)
    for row in rows:
        row.url_count = url_counts.get(row.case.id, 0)
        row.unread_messages = unread.get(row.case.id, 0)


def queue_page(session: Session, where: QueueFilter, viewer: Viewer, now: datetime, *,
               page: int = 1, per_page: int = PAGE_SIZE) -> QueuePage:
    """One page in the queue's order, read along the index that holds it (the cost grows
    with the page number, not with the backlog)."""
    counts = queue_counts(session, where, viewer, now)
    total = counts["total"]
    page = max(1, page)
    if not getattr(total, "capped", False):
        page = min(page, max(1, -(-total // per_page)))
    rows = _page_rows(session, where, viewer, now, (page - 1) * per_page, per_page + 1) \
        if total else []
    if not rows and page > 1:  # past the end of a capped count
        page = 1
        rows = _page_rows(session, where, viewer, now, 0, per_page + 1)
    has_next = len(rows) > per_page
    rows = rows[:per_page]
    if rows:
        _annotate(session, rows)
    pages = page + has_next if getattr(total, "capped", False) else max(1, -(-total // per_page))
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


__all__ = ["Count", "QueueFilter", "QueuePage", "QueueRow", "Viewer", "parse_filter",
           "queue_counts", "queue_page"]
