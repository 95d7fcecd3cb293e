"""Server-side sessions for caseworkers and victims: the one place that decides whether a
cookie still opens anything. Takes a session and `now`; never commits, never imports flask.

The browser's cookie carries only a random token; the table keeps its SHA-256 digest, who
it belongs to, an HMAC of the client's address and user agent, and when it ended."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from disrupt.accounts.models import User, WebSession

KINDS = ("staff", "victim")
# last_seen_at is written at most this often per session (not on every request).
TOUCH_EVERY = timedelta(seconds=30)


def client_digest(secret_key: str, remote_addr: str | None, user_agent: str | None) -> str:
    text = f"{remote_addr or ''}\n{user_agent or ''}"
    return hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, *, kind: str, client: str, now: datetime,
          user: User | None = None, case_id: int | None = None) -> str:
    """A new session; returns the token for the cookie (the only place it exists)."""
    if kind not in KINDS or (user is None) == (case_id is None):
        raise ValueError("a staff session needs a user, a victim session a case")
    token = secrets.token_urlsafe(32)
    session.add(WebSession(
        token_digest=_digest(token), kind=kind, client_digest=client,
        user_id=user.id if user is not None else None,
        user_nonce=user.session_nonce if user is not None else None,
        case_id=case_id, created_at=now, last_seen_at=now,
    ))
    session.flush()
    return token


def resume(session: Session, token: object, *, kind: str, client: str, idle: timedelta,
           now: datetime) -> tuple[WebSession | None, str | None]:
    """The live session of this token, or (None, why it ended). A session presented by
    another client, idle too long, or whose user changed is revoked here, for good."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return None, None
    record = session.scalar(select(WebSession).where(WebSession.token_digest == _digest(token)))
    if record is None or record.kind != kind:
        return None, None
    if record.revoked_at is not None:
        return None, record.end_reason
    reason = None
    if not hmac.compare_digest(record.client_digest, client):
        reason = "client"
    elif record.last_seen_at < now - idle:
        reason = "idle"
    elif record.kind == "staff":
        user = session.get(User, record.user_id)
        if user is None or not user.active or user.session_nonce != record.user_nonce:
            reason = "account"
    if reason is not None:
        revoke(session, record, now, reason)
        return None, reason
    if record.last_seen_at < now - TOUCH_EVERY:
        record.last_seen_at = now
    return record, None


def revoke(session: Session, record: WebSession, now: datetime, reason: str) -> None:
    session.execute(update(WebSession).where(WebSession.id == record.id,
                                             WebSession.revoked_at.is_(None))
                    .values(revoked_at=now, end_reason=reason))
    session.expire(record)


def revoke_token(session: Session, token: object, now: datetime, reason: str) -> None:
    """Logout, "Leave this site": the cookie's session ends whoever presents it next."""
    if isinstance(token, str) and token:
        session.execute(update(WebSession).where(WebSession.token_digest == _digest(token),
                                                 WebSession.revoked_at.is_(None))
                        .values(revoked_at=now, end_reason=reason))


def revoke_user(session: Session, user_id: int, now: datetime, reason: str) -> int:
    """Every session of a user (password change, role change, disable, 2FA reset)."""
    return session.execute(update(WebSession).where(WebSession.user_id == user_id,
                                                    WebSession.revoked_at.is_(None))
                           .values(revoked_at=now, end_reason=reason)).rowcount or 0


def revoke_case(session: Session, case_id: int, now: datetime, reason: str) -> int:
    """Every open case page of a case, in every browser (a withdrawal)."""
    return session.execute(update(WebSession).where(WebSession.case_id == case_id,
                                                    WebSession.revoked_at.is_(None))
                           .values(revoked_at=now, end_reason=reason)).rowcount or 0


def forget_case(session: Session, case_id: int) -> None:
    """An erased case: its session rows go, not only end."""
    session.execute(delete(WebSession).where(WebSession.case_id == case_id))


def purge(session: Session, now: datetime, keep_for: timedelta) -> int:
    """Drop sessions that ended (or went idle) more than `keep_for` ago."""
    return session.execute(delete(WebSession).where(or_(
        WebSession.revoked_at < now - keep_for,
        WebSession.last_seen_at < now - keep_for,
    ))).rowcount or 0
