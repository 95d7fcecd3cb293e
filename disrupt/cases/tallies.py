"""What the queue reads instead of counting the backlog: `case_tallies` (cases per status,
priority and assignee), changed by every flush that adds, changes or deletes a case, and
`cases.waiting_deadline` and `cases.overdue_from`, set on the platforms feature's
`waiting_deadline_changed` event.

Both are kept through the ORM: a bulk `insert`/`update`/`delete` on `cases` bypasses them
and must be followed by `recount` (the benchmark's seeding does). Never commits."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, func, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from disrupt.cases.models import PRIORITY_NORMAL, Case, CaseTally
from disrupt.events import waiting_deadline_changed

TallyKey = tuple[str, int, int]  # status, priority, assignee id (0: nobody)
_KEYED = ("status", "priority", "assignee_id")


def _key(values: dict[str, Any]) -> TallyKey:
    return (values["status"] or "new", values["priority"] or PRIORITY_NORMAL,
            values["assignee_id"] or 0)


def _values(case: Case, *, before: bool) -> dict[str, Any]:
    """The keyed columns as they are now, or as the database held them before this flush
    (active_history on the columns makes the old value known even when it was expired)."""
    state = inspect(case)
    values = {}
    for name in _KEYED:
        history = state.attrs[name].history
        if before and history.deleted:
            values[name] = history.deleted[0]
        elif before and history.unchanged:
            values[name] = history.unchanged[0]
        elif before and not history.added:
            values[name] = state.dict.get(name)
        elif history.added:
            values[name] = history.added[0]
        else:
            values[name] = state.dict.get(name)
    return values


def _changes(session: Session) -> Counter[TallyKey]:
    deltas: Counter[TallyKey] = Counter()
    for obj in session.new:
        if isinstance(obj, Case):
            deltas[_key(_values(obj, before=False))] += 1
    for obj in session.dirty:
        if isinstance(obj, Case):
            old, new = _key(_values(obj, before=True)), _key(_values(obj, before=False))
            if old != new:
                deltas[old] -= 1
                deltas[new] += 1
    for obj in session.deleted:
        if isinstance(obj, Case):
            deltas[_key(_values(obj, before=True))] -= 1
    return deltas


def _load_deleted(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """A case deleted while its columns were expired: read them while the row exists."""
    for obj in session.deleted:
        if isinstance(obj, Case):
            for name in _KEYED:
                getattr(obj, name)


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    deltas = {key: n for key, n in _changes(session).items() if n}
    if deltas:
        add_to_tallies(session, deltas)


def add_to_tallies(session: Session, deltas: dict[TallyKey, int]) -> None:
    """Add to the tallies, keys in one order so that two transactions never wait on each
    other's rows crosswise."""
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for (status, priority, assignee), n in sorted(deltas.items()):
        statement = dialect.insert(CaseTally).values(
            status=status, priority=priority, assignee_key=assignee, cases=n)
        connection.execute(statement.on_conflict_do_update(
            index_elements=["status", "priority", "assignee_key"],
            set_={"cases": CaseTally.cases + statement.excluded.cases}))


def read_tallies(session: Session) -> dict[TallyKey, int]:
    rows = session.execute(select(CaseTally.status, CaseTally.priority, CaseTally.assignee_key,
                                  CaseTally.cases).where(CaseTally.cases != 0))
    return {(status, priority, assignee): n for status, priority, assignee, n in rows}


def recount(session: Session) -> None:
    """Tallies counted again from the cases (after a bulk load, or to check them)."""
    session.execute(delete(CaseTally))
    assignee = func.coalesce(Case.assignee_id, 0)
    session.execute(insert(CaseTally).from_select(
        ["status", "priority", "assignee_key", "cases"],
        select(Case.status, Case.priority, assignee, func.count())
        .group_by(Case.status, Case.priority, assignee)))


def on_waiting_deadline_changed(case_id: int, *, session: Session, deadline: datetime | None,
                                overdue_from: datetime | None, **_: object) -> None:
    session.connection().execute(
        update(Case).where(Case.id == case_id)
        .values(waiting_deadline=deadline, overdue_from=overdue_from))
    loaded = session.identity_map.get(identity_key(Case, case_id))
    if loaded is not None:
        set_committed_value(loaded, "waiting_deadline", deadline)
        set_committed_value(loaded, "overdue_from", overdue_from)


def connect() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "before_flush", _load_deleted)
        event.listen(Session, "after_flush", _after_flush)
    waiting_deadline_changed.connect(on_waiting_deadline_changed)
