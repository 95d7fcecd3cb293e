"""May work be done on this case: one rule for every service that sends, queues, refers,
follows up, retries or claims, in Python for one case and in SQL for queries."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists

from disrupt.cases.models import STOPPED_STATUSES, Case


class CaseStopped(ValueError):
    """The victim withdrew or erased the case: nothing more is done on it."""


def work_refusal(case: Case) -> str | None:
    """Why no work may be done on ``case`` now, or None when it may."""
    if case.status in STOPPED_STATUSES:
        return f"The victim has {case.status} this case: no more work may be done on it."
    return None


def ensure_work_allowed(case: Case, error: type[Exception] = CaseStopped) -> None:
    """Raise ``error`` (the caller's own error type, or CaseStopped) with the reason."""
    reason = work_refusal(case)
    if reason is not None:
        raise error(reason)


def case_workable() -> ColumnElement[bool]:
    """SQL for a query that already has the cases table in it."""
    return Case.status.not_in(STOPPED_STATUSES)


def case_stopped(case_id: Any) -> ColumnElement[bool]:
    """SQL: the case with id ``case_id`` (a column) is stopped; one correlated EXISTS."""
    return exists().where(Case.id == case_id, Case.status.in_(STOPPED_STATUSES)) \
        .correlate_except(Case)
