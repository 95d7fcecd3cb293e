"""The Flask glue the blueprints share: the request's database session, clock, cipher and
audit, CSRF, the staff login and the server-side sessions. Imports no view and not the app
factory (web.py), so every blueprint can import it."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, has_request_context, request, session
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from disrupt.db import Database, utcnow
from disrupt.security import DataCipher

csrf = CSRFProtect()
login_manager = LoginManager()
STAFF_SESSION_KEY = "sid"


def client_fingerprint() -> str:
    from disrupt.accounts.sessions import client_digest

    return client_digest(current_app.config["SECRET_KEY"], request.remote_addr,
                         request.headers.get("User-Agent"))


def resume_session(kind: str, key: str, idle_minutes: float) -> Any:
    """The live server-side session whose token this browser's cookie holds under `key`, or
    None (the token is then dropped from the cookie). Checked and touched in its own short
    write transaction, so a GET can end a session for good."""
    from disrupt.accounts import sessions

    token = session.get(key)
    if token is None:
        return None
    with database().writer_sessionmaker() as writer:
        record, why = sessions.resume(writer, token, kind=kind, client=client_fingerprint(),
                                      idle=timedelta(minutes=idle_minutes), now=now())
        writer.commit()
    if record is None:
        session.pop(key, None)
        g.setdefault("session_end", {})[kind] = why
    return record


def session_ended_by(kind: str) -> str | None:
    """Why this request's `kind` session just ended (idle, client, account...), if it did."""
    return g.get("session_end", {}).get(kind)


def start_session(kind: str, key: str, **owner: Any) -> None:
    """A new server-side session for this browser (the view commits)."""
    from disrupt.accounts import sessions

    session[key] = sessions.start(db_session(), kind=kind, client=client_fingerprint(),
                                  now=now(), **owner)


def end_session(key: str, reason: str) -> None:
    """Revoke this browser's session under `key` (the view commits)."""
    from disrupt.accounts import sessions

    sessions.revoke_token(db_session(), session.pop(key, None), now(), reason)


def database() -> Database:
    return current_app.extensions["disrupt.db"]


def cipher() -> DataCipher:
    return current_app.extensions["disrupt.cipher"]


def db_session() -> Session:
    """The request's session; the view commits.

    A form post reads, then writes: on SQLite its transaction takes the write lock at BEGIN
    (waiting up to the busy timeout), so a worker committing in between cannot make the
    write fail with "database is locked" (a stale WAL snapshot is never retried)."""
    if "db_session" not in g:
        writes = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        db = database()
        g.db_session = (db.writer_sessionmaker if writes else db.sessionmaker)()
    return g.db_session


def now() -> datetime:
    return utcnow()


def first_check_delay() -> timedelta:
    """How long a new URL may wait for its first check (CHECK_FIRST_DELAY_MINUTES, scaled)."""
    config = current_app.config
    return timedelta(minutes=float(config["CHECK_FIRST_DELAY_MINUTES"])) * float(
        config["TIME_SCALE"])


def audit(action: str, record: Any = None, **detail: Any) -> None:
    """Record a caseworker action in the audit log, in the view's transaction."""
    from disrupt.accounts.services import record_audit

    actor = current_user if current_user.is_authenticated else None
    record_audit(db_session(), action=action, now=now(), actor=actor, record=record,
                 remote_addr=request.remote_addr, **detail)
