"""The audit log's part of an erasure: events about the case's records keep who, what, which
record and when; their details and client addresses are emptied (the only update the
database's append-only triggers allow). Never commits."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from disrupt.accounts import sessions
from disrupt.accounts.models import AuditEvent
from disrupt.events import case_erased, case_withdrawn

PERSONAL = {"audit_events": ("remote_addr", "detail"),
            "web_sessions": ("token_digest", "client_digest", "user_nonce")}
NOT_PERSONAL = {"audit_events": ("actor_kind", "action", "record_type"),
                "web_sessions": ("kind", "end_reason")}


def on_case_erased(case: Any, *, session: Session, now: datetime, urls: dict[int, str],
                   **_: object) -> None:
    about_case = or_(
        AuditEvent.case_id == case.id,
        (AuditEvent.record_type == "cases") & (AuditEvent.record_id == case.id),
        (AuditEvent.record_type == "reported_urls") & AuditEvent.record_id.in_(list(urls)),
    )
    session.execute(update(AuditEvent).where(about_case).values(detail={}, remote_addr=None)
                    .execution_options(synchronize_session=False))
    sessions.forget_case(session, case.id)  # the victim's case pages close everywhere


def on_case_withdrawn(case: Any, *, session: Session, now: datetime, **_: object) -> None:
    """Whoever else holds a copy of the case page's cookie loses it; the view that withdrew
    opens a new session for the victim's own browser."""
    sessions.revoke_case(session, case.id, now, "withdrawn")


def connect() -> None:
    case_erased.connect(on_case_erased)
    case_withdrawn.connect(on_case_withdrawn)
