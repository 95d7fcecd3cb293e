"""What the queue reads instead of counting the backlog: `case_tallies` (cases per status,
priority and assignee), moved by cases.status, the one writer of those columns, and
`cases.waiting_deadline` and `cases.overdue_from`, set on the platforms feature's
`waiting_deadline_changed` event.

A bulk `insert`/`update`/`delete` on `cases` bypasses cases.status and must be followed by
`recount` (the benchmark's seeding does). Never commits."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from disrupt.cases.models import Case, CaseTally
from disrupt.db import upsert_insert
from disrupt.events import waiting_deadline_changed

TallyKey = tuple[str, int, int]  # status, priority, assignee id (0: nobody)


def add_to_tallies(session: Session, deltas: dict[TallyKey, int]) -> None:
    """Add to the tallies, keys in one order so that two transactions never wait on each
    other's rows crosswise."""
    connection = session.connection()
    for (status, priority, assignee), n in sorted(deltas.items()):
        statement = upsert_insert(connection.dialect.name, CaseTally).values(
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
    waiting_deadline_changed.connect(on_waiting_deadline_changed)
