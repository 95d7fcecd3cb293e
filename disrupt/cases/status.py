"""The one place a case enters the database or changes status, priority, assignee or age
group: the queue's tallies (cases.tallies) move with it, and the other features hear of it
(`case_status_changed`, `case_classified`). Every feature calls these, none sets the
columns itself (tests/test_structure.py checks). Never commits."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from disrupt.cases.models import PRIORITY_NORMAL, Case
from disrupt.cases.tallies import TallyKey, add_to_tallies
from disrupt.events import case_classified, case_status_changed, require_listeners


def tally_key(case: Case) -> TallyKey:
    return (case.status or "new", case.priority or PRIORITY_NORMAL, case.assignee_id or 0)


def _move(session: Session, before: TallyKey, after: TallyKey) -> None:
    if before != after:
        add_to_tallies(session, {before: -1, after: 1})


def add_case(session: Session, case: Case) -> None:
    """A new case: counted in the queue from now on."""
    if case.status is None:
        case.status = "new"
    if case.priority is None:
        case.priority = PRIORITY_NORMAL
    session.add(case)
    add_to_tallies(session, {tally_key(case): 1})


def set_status(session: Session, case: Case, status: str, *, now: datetime) -> None:
    old = case.status
    if old == status:
        return
    before = tally_key(case)
    case.status = status
    _move(session, before, tally_key(case))
    if case.id is None:
        session.flush()
    require_listeners(case_status_changed)
    case_status_changed.send(case, session=session, now=now, old=old)


def set_assignee(session: Session, case: Case, assignee_id: int | None) -> None:
    before = tally_key(case)
    case.assignee_id = assignee_id
    _move(session, before, tally_key(case))


def set_classification(session: Session, case: Case, *, age_group: str, priority: int,
                       now: datetime) -> None:
    before = tally_key(case)
    changed = case.age_group != age_group
    case.age_group = age_group
    case.priority = priority
    _move(session, before, tally_key(case))
    if changed:
        if case.id is None:
            session.flush()
        case_classified.send(case, session=session, now=now)
