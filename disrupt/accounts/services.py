"""Caseworker accounts and the audit log. Takes a session and `now`; never commits."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value

from disrupt.accounts import totp
from disrupt.accounts.models import ROLES, AuditEvent, RecoveryCode, User
from disrupt.security import DUMMY_HASH, DataCipher, hash_secret, verify_secret

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# Under guessing from many clients an account is slowed down, never locked: 1/8 s doubling
# with each failure past MAX_FAILED_LOGINS in the LOCKOUT window, up to this.
FIRST_DELAY_SECONDS = 0.125
MAX_ACCOUNT_DELAY_SECONDS = 8.0
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
ADDRESS_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 30
FAILURE_ACTIONS = ("login_failed", "second_factor_failed", "password_change_failed")


class AccountError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")


def create_user(
    session: Session, *, email: str, name: str, password: str, role: str, now: datetime
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    _check_password(password)
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


def is_locked(user: User, now: datetime) -> bool:
    """An administrator's lock (failures no longer lock an account for everyone: see
    locked_for_client)."""
    return user.locked_until is not None and user.locked_until > now


def _counted_failures(now: datetime, *columns: Any) -> Select[Any]:
    """``columns`` over the failed log-in steps that still count against their account:
    those of the last LOCKOUT, after an administrator last unlocked it (lock_lifted_at)."""
    return (select(*columns).select_from(AuditEvent)
            .join(User, User.id == AuditEvent.record_id)
            .where(AuditEvent.record_type == User.__tablename__,
                   AuditEvent.action.in_(FAILURE_ACTIONS), AuditEvent.at > now - LOCKOUT,
                   or_(User.lock_lifted_at.is_(None), AuditEvent.at > User.lock_lifted_at)))


def _account_failures(session: Session, user: User, now: datetime,
                      remote_addr: str | None = None, *, by_address: bool = False) -> int:
    """Failed log-in steps on this account that still count (from one client address when
    `by_address`), as the audit log records them."""
    query = _counted_failures(now, func.count()).where(AuditEvent.record_id == user.id)
    if by_address:
        query = query.where(AuditEvent.remote_addr.is_(None) if remote_addr is None
                            else AuditEvent.remote_addr == remote_addr)
    return session.scalar(query) or 0


def locked_for_client(session: Session, user: User, remote_addr: str | None,
                      now: datetime) -> bool:
    """MAX_FAILED_LOGINS failures on this account from this client address in LOCKOUT: this
    client gets no more answers about it. Other clients still log in (slowed down)."""
    return _account_failures(session, user, now, remote_addr,
                             by_address=True) >= MAX_FAILED_LOGINS


def locked_addresses(session: Session, now: datetime) -> dict[int, int]:
    """Per user id, how many client addresses its failures locked out (for the users page,
    where an administrator can lift them: see unlock)."""
    per_address = (
        _counted_failures(now, AuditEvent.record_id.label("user_id"))
        .group_by(AuditEvent.record_id, AuditEvent.remote_addr)
        .having(func.count() >= MAX_FAILED_LOGINS)
        .subquery())
    return dict(session.execute(select(per_address.c.user_id, func.count())
                                .group_by(per_address.c.user_id)).all())


def account_delay(session: Session, user: User | None, now: datetime) -> float:
    """Seconds to wait before answering about this account: none until MAX_FAILED_LOGINS
    failures in LOCKOUT from anywhere, then doubling. Applied to every answer, the right
    password included, so that the wait tells nothing."""
    if user is None:
        return 0.0
    over = _account_failures(session, user, now) - MAX_FAILED_LOGINS
    if over < 0:
        return 0.0
    return min(MAX_ACCOUNT_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2.0 ** min(over, 20))


def _count_failure(user: User) -> None:
    """Password and second-factor failures share one counter (shown to administrators).
    An atomic increment: concurrent requests never lose a failure."""
    session = object_session(user)
    assert session is not None
    count = session.execute(
        update(User).where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1).returning(User.failed_logins)
        .execution_options(synchronize_session=False)).scalar_one()
    set_committed_value(user, "failed_logins", count)


def _claim_totp_step(session: Session, user: User, step: int) -> bool:
    """Record `step` as the last accepted one unless it (or a later one) already was: a
    conditional UPDATE, so of concurrent requests with one code only one succeeds."""
    claimed = session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None),
                                                    User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)).rowcount
    if claimed:
        set_committed_value(user, "totp_last_step", step)
    return claimed == 1


def authenticate(session: Session, email: str, password: str, now: datetime,
                 remote_addr: str | None = None) -> User | None:
    """The user when the password is right and the account is open to this client address;
    counts failures.

    A right password does not reset the failure counter: only a completed login does, so
    re-entering the password never buys more guesses at the second factor."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_secret(DUMMY_HASH, password)
        return None
    if (not user.active or is_locked(user, now)
            or locked_for_client(session, user, remote_addr, now)):
        verify_secret(DUMMY_HASH, password)
        return None
    if not verify_secret(user.password_hash, password):
        _count_failure(user)
        return None
    return user


def complete_login(user: User, now: datetime) -> None:
    """Both factors passed."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now


def failures_from_address(session: Session, remote_addr: str | None, now: datetime) -> int:
    """Failed log-in steps from one address in the last ADDRESS_WINDOW (all accounts, and
    e-mail addresses that have none): throttles guessing across accounts."""
    if not remote_addr:
        return 0
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.remote_addr == remote_addr,
            AuditEvent.at > now - ADDRESS_WINDOW,
            AuditEvent.action.in_(FAILURE_ACTIONS),
        )
    ) or 0


def address_throttled(session: Session, remote_addr: str | None, now: datetime) -> bool:
    return failures_from_address(session, remote_addr, now) >= MAX_FAILURES_PER_ADDRESS


# --- TOTP second factor -------------------------------------------------------------


def _secret(user: User, cipher: DataCipher) -> str | None:
    return cipher.decrypt(user.totp_secret_encrypted)


def begin_totp_enrolment(user: User, cipher: DataCipher) -> str:
    """The secret to show while the user scans it; the same one until enrolment ends."""
    if user.totp_enrolled:
        raise AccountError("the second factor is already set up")
    secret = _secret(user, cipher)
    if secret is None:
        secret = totp.new_totp_secret()
        user.totp_secret_encrypted = cipher.encrypt(secret)
    return secret


def _replace_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user.id, code_digest=totp.recovery_digest(code),
                                 created_at=now) for code in codes)
    return codes


def confirm_totp_enrolment(
    session: Session, user: User, code: str, cipher: DataCipher, now: datetime
) -> list[str]:
    """Check the first code from the user's app; the recovery codes to show once."""
    secret = _secret(user, cipher)
    if secret is None or user.totp_enrolled:
        raise AccountError("start the set-up again")
    step = totp.matching_step(secret, code, now, after=user.totp_last_step)
    if step is None or not _claim_totp_step(session, user, step):
        _count_failure(user)
        raise AccountError("That code is not right. Check the time on your phone and use "
                           "the newest code.")
    user.totp_enrolled_at = now
    return _replace_recovery_codes(session, user, now)


def enrol_totp(session: Session, user: User, cipher: DataCipher,
               now: datetime) -> tuple[str, list[str]]:
    """Set up the second factor without the web step (CLI, demo): secret and codes."""
    secret = totp.new_totp_secret()
    user.totp_secret_encrypted = cipher.encrypt(secret)
    user.totp_enrolled_at = now
    user.totp_last_step = None
    return secret, _replace_recovery_codes(session, user, now)


def verify_second_factor(
    session: Session, user: User, code: str, cipher: DataCipher, now: datetime,
    remote_addr: str | None = None,
) -> str | None:
    """"totp" or "recovery" when the code is right (a recovery code is then spent), None
    when it is wrong, already used, or the account is locked to this client address (a
    failure is counted)."""
    if not user.active or is_locked(user, now) or not user.totp_enrolled:
        return None
    if locked_for_client(session, user, remote_addr, now):
        _count_failure(user)
        return None
    secret = _secret(user, cipher)
    if secret is not None:
        step = totp.matching_step(secret, code, now, after=user.totp_last_step)
        if step is not None and _claim_totp_step(session, user, step):
            return "totp"
    if totp.looks_like_recovery_code(code):
        spent = session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
                   RecoveryCode.code_digest == totp.recovery_digest(code))
            .values(used_at=now)
        ).rowcount
        if spent == 1:
            return "recovery"
    _count_failure(user)
    return None


def recovery_codes_left(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def new_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    return _replace_recovery_codes(session, user, now)


def current_totp_code(user: User, cipher: DataCipher, now: datetime) -> str:
    """The code an authenticator app shows now (the demo's `disrupt totp-code`)."""
    secret = _secret(user, cipher)
    if secret is None or not user.totp_enrolled:
        raise AccountError(f"{user.email} has no second factor set up")
    return totp.current_code(secret, now)


# --- administration -----------------------------------------------------------------


def end_sessions(user: User) -> None:
    user.session_nonce = secrets.token_hex(16)


def reset_totp(session: Session, user: User) -> None:
    """Lost phone and codes: the user sets the second factor up again at the next login."""
    user.totp_secret_encrypted = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_sessions(user)


def set_role(user: User, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}")
    user.role = role
    end_sessions(user)


def set_active(user: User, active: bool) -> None:
    user.active = active
    end_sessions(user)


def unlock(user: User, now: datetime) -> None:
    """An administrator lifts every lock on the account: their own (locked_until) and those
    its failures put on client addresses (the failures before now stop counting; the
    address-wide throttle across accounts stays)."""
    user.failed_logins = 0
    user.locked_until = None
    user.lock_lifted_at = now


def set_password(user: User, password: str) -> None:
    _check_password(password)
    user.password_hash = hash_secret(password)
    end_sessions(user)


def change_own_password(user: User, current: str, new: str, repeated: str, now: datetime) -> None:
    """The user changes their password; a wrong current password counts as a failed login
    (so this form cannot be used to guess it). Every session of the user ends."""
    if not verify_secret(user.password_hash, current):
        _count_failure(user)
        raise AccountError("The current password is not right.", "current")
    if new != repeated:
        raise AccountError("The two new passwords are not the same.", "repeated")
    if new == current:
        raise AccountError("The new password must differ from the current one.", "new")
    try:
        set_password(user, new)
    except AccountError as exc:
        raise AccountError(f"The new password is {str(exc).removeprefix('password ')}.",
                           "new") from exc


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
        case_id=_case_id_of(record, detail),
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


def _case_id_of(record: Any, detail: dict[str, Any]) -> int | None:
    if record is not None and getattr(record, "__tablename__", None) == "cases":
        return record.id
    case_id = getattr(record, "case_id", None)
    if case_id is None:
        case_id = detail.get("case_id")
    return case_id if isinstance(case_id, int) else None
