"""What derived data must equal, counted again from the rows themselves: the queue's tallies
from the cases, the waiting deadlines from the requests (tests compare after each change)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.platforms.models import AWAITING_ACTION, RemovalRequest


def tallies_counted(session: Session) -> dict[tuple[str, int, int], int]:
    assignee = func.coalesce(Case.assignee_id, 0)
    rows = session.execute(select(Case.status, Case.priority, assignee, func.count())
                           .group_by(Case.status, Case.priority, assignee))
    return {(s, p, a): n for s, p, a, n in rows}


def deadlines_counted(session: Session) -> dict[int, tuple[datetime | None, datetime | None]]:
    """Per case, from the requests themselves: (earliest waiting deadline, overdue from)."""
    out = {}
    for case in session.scalars(select(Case)):
        waiting = [r for r in session.scalars(select(RemovalRequest).where(
            RemovalRequest.case_id == case.id)) if r.status in AWAITING_ACTION and r.deadline_at]
        up = [r.deadline_at for r in waiting
              if r.sent_at and any(u.state != "removed" for u in r.urls)]
        out[case.id] = (min((r.deadline_at for r in waiting), default=None), min(up, default=None))
    return out


def deadlines_kept(session: Session) -> dict[int, tuple[datetime | None, datetime | None]]:
    return {c.id: (c.waiting_deadline, c.overdue_from) for c in session.scalars(select(Case))}
