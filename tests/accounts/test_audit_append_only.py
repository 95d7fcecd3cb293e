"""The audit log is append-only in the database itself, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError

from disrupt.accounts.models import AuditEvent
from disrupt.accounts.services import record_audit
from disrupt.db import utcnow


def _event(db) -> int:
    with db.session() as session:
        event = record_audit(session, action="case.status_changed", now=utcnow(),
                             actor_kind="user", remote_addr="203.0.113.9", case_id=7,
                             status="closed")
        session.commit()
        return event.id


@pytest.mark.parametrize("change", [
    {"action": "case.viewed"},
    {"actor_kind": "system"},
    {"case_id": 8},
    {"record_id": 1},
    {"remote_addr": "198.51.100.1"},
    {"detail": {"status": "open"}},
    # the scrub must empty both; one alone is still a rewrite
    {"detail": {}},
    {"remote_addr": None},
])
def test_rewriting_an_entry_is_refused(db, change):
    event_id = _event(db)
    with db.session() as session, pytest.raises(DatabaseError, match="append-only"):
        session.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(**change))
        session.flush()
    with db.session() as session:
        event = session.get(AuditEvent, event_id)
        assert (event.action, event.remote_addr, event.detail) == (
            "case.status_changed", "203.0.113.9", {"case_id": 7, "status": "closed"})


def test_deleting_an_entry_is_refused(db):
    event_id = _event(db)
    with db.session() as session, pytest.raises(DatabaseError, match="append-only"):
        session.execute(delete(AuditEvent).where(AuditEvent.id == event_id))
    with db.session() as session:
        assert session.scalar(select(AuditEvent.id).where(AuditEvent.id == event_id)) == event_id


def test_erasure_scrub_is_the_one_update_allowed(db):
    event_id = _event(db)
    with db.session() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == event_id)
                        .values(detail={}, remote_addr=None))
        session.commit()
    with db.session() as session:
        event = session.get(AuditEvent, event_id)
        assert (event.action, event.case_id, event.remote_addr, event.detail) == (
            "case.status_changed", 7, None, {})
