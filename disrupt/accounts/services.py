"""Caseworker accounts and the audit log. Takes a session and `now`; never commits."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.accounts.models import ROLES, AuditEvent, User
from disrupt.security import DUMMY_HASH, hash_secret, verify_secret

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    pass


def create_user(
    session: Session, *, email: str, name: str, password: str, role: str, now: datetime
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(func.count()).where(User.email == email)):
        raise AccountError(f"a user with e-mail {email} already exists")
    user = User(
        email=email,
        name=name.strip() or email,
        password_hash=hash_secret(password),
        role=role,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str, now: datetime) -> User | None:
    """The user when the password is right and the account is open; counts failures."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_secret(DUMMY_HASH, password)
        return None
    if not user.active or (user.locked_until and user.locked_until > now):
        verify_secret(DUMMY_HASH, password)
        return None
    if not verify_secret(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def record_audit(
    session: Session,
    *,
    action: str,
    now: datetime,
    actor: User | None = None,
    actor_kind: str | None = None,
    record: Any = None,
    remote_addr: str | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        at=now,
        actor_id=actor.id if actor is not None else None,
        actor_kind=actor_kind or ("user" if actor is not None else "system"),
        action=action,
        record_type=type(record).__tablename__ if record is not None else None,
        record_id=getattr(record, "id", None),
        remote_addr=remote_addr,
        detail=detail,
    )
    session.add(event)
    return event
