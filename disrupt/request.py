"""The Flask glue the blueprints share: the request's database session, clock, cipher and
audit, CSRF, the staff login and the server-side sessions. Imports no view and not the app
factory (configure.py), so every blueprint can import it."""
from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, g, has_request_context, request, session
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
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
    """The request's session; the transaction boundary (`end_transaction`) commits it.

    A form post reads, then writes: on SQLite its transaction takes the write lock at BEGIN
    (waiting up to the busy timeout), so a worker committing in between cannot make the
    write fail with "database is locked" (a stale WAL snapshot is never retried)."""
    if "db_session" not in g:
        writes = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        db = database()
        g.db_session = (db.writer_sessionmaker if writes else db.sessionmaker)()
        if current_app.testing:
            _watch_writes(g.db_session)
    return g.db_session


# What a GET may write: the record of the reading itself (who opened a case, which
# messages the victim has now seen, when a partner's API key last fetched). Anything else
# is a write a GET must not make.
READING_RECORDS = frozenset({"audit_events", "messages", "api_clients"})


def commits_refusals(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view records refused attempts (a failed login or code, a throttle count) that must
    stay although it answers 4xx: the boundary commits its writes on any response. An
    exception still rolls everything back."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.commit_refusals = True
        return view(*args, **kwargs)

    return wrapper


def end_transaction(response: Response) -> Response:
    """The one transaction boundary of a request (after_request): commit the request's
    session when the response succeeds (status < 400, or any response of a view marked
    `commits_refusals`), roll it back otherwise; an exception reaches here as a 500, so it
    rolls back. A view may still commit earlier when something outside the database must
    follow the commit (files deleted after an erasure, a pause under throttling)."""
    session_ = g.get("db_session")
    if session_ is None:
        return response
    if current_app.testing and request.method in ("GET", "HEAD"):
        session_.flush()
        written = session_.info.get("written_tables", set()) - READING_RECORDS
        assert not written, f"GET {request.path} wrote to {sorted(written)}"
    if response.status_code < 400 or g.get("commit_refusals"):
        session_.commit()
    else:
        session_.rollback()
    return response


def _watch_writes(session_: Session) -> None:
    """Under TESTING, note the tables the request's session writes (for end_transaction)."""
    written: set[str] = session_.info.setdefault("written_tables", set())

    @event.listens_for(session_, "before_flush")
    def _flushed(session_: Session, _context: Any, _instances: Any) -> None:
        for record in (*session_.new, *session_.dirty, *session_.deleted):
            if session_.is_modified(record) or record not in session_.dirty:
                written.add(record.__table__.name)

    @event.listens_for(session_, "do_orm_execute")
    def _executed(state: Any) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            written.add(getattr(table, "name", str(table)))


def now() -> datetime:
    return utcnow()


def time_scale() -> float:
    """TIME_SCALE: deadlines and schedules shrink by it in the demo (1 in production)."""
    return float(current_app.config["TIME_SCALE"])


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
