"""What the victim does with their case. Takes a session and `now`; never commits."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from disrupt.accounts.services import record_audit
from disrupt.cases.models import (
    INTIMATE_ANSWERS,
    Case,
    MediaHash,
    Message,
    ReportedURL,
)
from disrupt.cases.rules import work_refusal
from disrupt.cases.services import (
    SubmittedHash,
    add_media_hash,
    add_normalized_urls,
    post_message,
    priority_for,
    reopen_for_new_urls,
)
from disrupt.cases.status import add_case, set_status
from disrupt.events import case_erased, case_withdrawn, require_listeners
from disrupt.platforms.models import RemovalRequest, removal_request_urls
from disrupt.security import (
    DUMMY_CODE_HASH,
    DataCipher,
    canonical_code,
    code_needs_rehash,
    hash_code,
    new_case_reference,
    new_case_secret,
    verify_secret,
)
from disrupt.urls.normalize import normalize_url
from disrupt.victims.confirmation import forget_confirmation
from disrupt.victims.models import LoginThrottle

OPEN_STATUSES = ("new", "in_progress")


def open_case(
    session: Session,
    *,
    age_group: str,
    language: str,
    consent_notices: bool,
    consent_hash_sharing: bool,
    contact: str | None,
    urls: list[str],
    hashes: list[SubmittedHash],
    cipher: DataCipher,
    now: datetime,
    reporter: str = "self",
    first_check_delay: timedelta = timedelta(0),
    intimate: str | None = None,
) -> tuple[Case, str]:
    """Create the case; returns it with the secret, which is shown once and stored hashed."""
    secret = new_case_secret()
    while True:
        reference = new_case_reference()
        if not session.scalar(select(Case.id).where(Case.reference == reference)):
            break
    case = Case(
        reference=reference,
        secret_hash=hash_code(canonical_code(secret)),
        status="new",
        age_group=age_group,
        reporter=reporter,
        language=language,
        consent_notices=consent_notices,
        consent_hash_sharing=consent_hash_sharing,
        contact_encrypted=cipher.encrypt(contact),
        priority=priority_for(age_group),
        created_at=now,
        updated_at=now,
    )
    if intimate in INTIMATE_ANSWERS:
        case.intimate = intimate
    add_case(session, case)
    session.flush()
    add_normalized_urls(session, case, [normalize_url(url) for url in urls],
                        reported_by="victim", now=now, first_check_delay=first_check_delay)
    hashes = distinct_hashes(hashes)
    for submitted in hashes:
        add_media_hash(session, case, submitted, now)
    _victim_audit(session, "victim.case_opened", case, now, urls=len(urls), hashes=len(hashes))
    return case, secret


def format_reference(text: str) -> str:
    code = canonical_code(text)
    return f"{code[:3]}-{code[3:7]}-{code[7:11]}" if len(code) == 11 else code


def find_case_by_credentials(session: Session, reference: str, secret: str) -> Case | None:
    """The case when reference and secret match; the same work is done when they do not."""
    case = session.scalar(select(Case).where(Case.reference == format_reference(reference)))
    if case is None or case.secret_hash is None:
        verify_secret(DUMMY_CODE_HASH, canonical_code(secret))
        return None
    if not verify_secret(case.secret_hash, canonical_code(secret)):
        return None
    if code_needs_rehash(case.secret_hash):  # a case opened before the code parameters
        case.secret_hash = hash_code(canonical_code(secret))
    return case


# --- guessing: per reference and per client address, counted in the database ----------------

CASE_OPENING_WINDOW = timedelta(hours=1)
FIRST_DELAY_SECONDS = 0.125


@dataclass(frozen=True)
class ThrottlePolicy:
    """A client address that guesses too often is locked out; a case reference never is,
    since anyone who read a notice knows it: guessing on it only slows the answers down."""

    reference_slow_after: int
    reference_max_delay: float
    client_attempts: int
    lock_for: timedelta
    cases_per_client_hour: int = 10

    @classmethod
    def from_config(cls, config: Any) -> ThrottlePolicy:
        return cls(reference_slow_after=config["VICTIM_REFERENCE_SLOW_AFTER"],
                   reference_max_delay=float(config["VICTIM_REFERENCE_DELAY_SECONDS"]),
                   client_attempts=config["VICTIM_CLIENT_ATTEMPTS"],
                   lock_for=timedelta(minutes=config["VICTIM_LOCKOUT_MINUTES"]),
                   cases_per_client_hour=config["VICTIM_CASES_PER_CLIENT_HOUR"])


def throttle_key(secret_key: str, text: str) -> str:
    """An HMAC, so the table holds neither references nor client addresses."""
    return hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).hexdigest()


def _throttle_row(session: Session, scope: str, key: str, now: datetime,
                  failures: int = 0) -> tuple[LoginThrottle, bool]:
    """The counter of this scope and key, and whether it was made here (holding `failures`
    in a new window)."""
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.scope == scope,
                                                     LoginThrottle.key == key))
    if row is not None:
        return row, False
    try:
        with session.begin_nested():
            row = LoginThrottle(scope=scope, key=key, failures=failures, window_started_at=now)
            session.add(row)
    except IntegrityError:  # another web process inserted it first
        row = session.scalar(select(LoginThrottle).where(LoginThrottle.scope == scope,
                                                         LoginThrottle.key == key))
        assert row is not None
        return row, False
    return row, True


def is_locked(session: Session, keys: dict[str, str], now: datetime) -> bool:
    """keys: scope -> key. Locked when any of them is."""
    locked = session.scalar(select(LoginThrottle.id).where(
        or_(*[(LoginThrottle.scope == scope) & (LoginThrottle.key == key)
              for scope, key in keys.items()]),
        LoginThrottle.locked_until.is_not(None),
        LoginThrottle.locked_until > now,
    ).limit(1))
    return locked is not None


def record_failure(session: Session, keys: dict[str, str], policy: ThrottlePolicy,
                   now: datetime) -> None:
    """Count one failed look-up under each key; lock a client address that reaches its
    limit. A reference is never locked (reference_delay slows it down)."""
    for scope, key in keys.items():
        row, _made = _throttle_row(session, scope, key, now)
        if row.window_started_at < now - policy.lock_for:
            session.execute(update(LoginThrottle).where(LoginThrottle.id == row.id)
                            .values(failures=0, window_started_at=now))
        # An atomic increment: several web processes may count at once.
        session.execute(update(LoginThrottle).where(LoginThrottle.id == row.id)
                        .values(failures=LoginThrottle.failures + 1))
        session.refresh(row)
        if scope == "client" and row.failures >= policy.client_attempts:
            row.locked_until = now + policy.lock_for
            row.failures = 0
            row.window_started_at = now


def reference_delay(session: Session, key: str, policy: ThrottlePolicy, now: datetime) -> float:
    """Seconds to wait before answering about this reference: none until it has had
    `reference_slow_after` wrong secrets in the window, then 1/8 s doubling with each more,
    up to `reference_max_delay`. Applied to every answer, the right secret included, so
    that the wait cannot tell a right guess from a wrong one."""
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.scope == "reference",
                                                     LoginThrottle.key == key))
    if row is None or row.window_started_at < now - policy.lock_for:
        return 0.0
    over = row.failures - policy.reference_slow_after
    if over < 0:
        return 0.0
    return min(policy.reference_max_delay, FIRST_DELAY_SECONDS * 2.0 ** min(over, 20))


class TooManyCases(ValueError):
    """This client address opened its share of cases for the hour."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} cases an hour from one client address")
        self.limit = limit


def count_case_opening(session: Session, key: str, policy: ThrottlePolicy,
                       now: datetime) -> None:
    """Count one case opened by this client address; raise TooManyCases when it has opened
    `cases_per_client_hour` in the current hour. Conditional updates, so web processes
    counting at once never let more through."""
    allowed = policy.cases_per_client_hour > 0
    row, made = _throttle_row(session, "case_open", key, now, failures=int(allowed))
    if made and allowed:
        return  # the address's first case in the window: its new counter already holds it
    session.execute(update(LoginThrottle).where(
        LoginThrottle.id == row.id, LoginThrottle.window_started_at < now - CASE_OPENING_WINDOW,
    ).values(failures=0, window_started_at=now))
    counted = session.execute(update(LoginThrottle).where(
        LoginThrottle.id == row.id, LoginThrottle.failures < policy.cases_per_client_hour,
    ).values(failures=LoginThrottle.failures + 1))
    if not counted.rowcount:
        raise TooManyCases(policy.cases_per_client_hour)


def clear_failures(session: Session, scope: str, key: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.scope == scope,
                                                LoginThrottle.key == key,
                                                LoginThrottle.locked_until.is_(None)))


def purge_erased_hashes(session: Session, now: datetime, keep_for: timedelta) -> int:
    """Delete the hash tombstones of erased cases once partner platforms have had `keep_for`
    to learn from the exchange that they must delete them."""
    result = session.execute(delete(MediaHash).where(
        MediaHash.status == "deleted", MediaHash.status_changed_at < now - keep_for,
        MediaHash.case_id.in_(select(Case.id).where(Case.status == "erased")),
    ))
    return result.rowcount or 0


def purge_throttles(session: Session, now: datetime, policy: ThrottlePolicy) -> int:
    """Drop counters whose window and lock are over (keeps the table small)."""
    result = session.execute(delete(LoginThrottle).where(
        or_(and_(LoginThrottle.scope != "case_open",
                 LoginThrottle.window_started_at < now - policy.lock_for),
            and_(LoginThrottle.scope == "case_open",
                 LoginThrottle.window_started_at < now - CASE_OPENING_WINDOW)),
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
    ))
    return result.rowcount or 0


# --- what the victim does once the case is open ------------------------------------------------

class CaseClosedToChanges(ValueError):
    """The case is withdrawn or erased: nothing can be added to it."""


def _require_open(case: Case) -> None:
    if work_refusal(case) is not None:
        raise CaseClosedToChanges(case.status)


class CaseFull(ValueError):
    """Adding these would take the case over its cap of web addresses or fingerprints."""

    def __init__(self, kind: str, limit: int, held: int) -> None:
        super().__init__(f"a case holds at most {limit} {kind}")
        self.kind, self.limit, self.held = kind, limit, held


def distinct_hashes(hashes: list[SubmittedHash],
                    known_sha256: set[str] | frozenset[str] = frozenset()) -> list[SubmittedHash]:
    """The same file twice (same SHA-256) is kept once."""
    seen = set(known_sha256)
    kept = []
    for submitted in hashes:
        if submitted.sha256 not in seen:
            seen.add(submitted.sha256)
            kept.append(submitted)
    return kept


def add_urls(session: Session, case: Case, urls: list[str], now: datetime,
             first_check_delay: timedelta = timedelta(0),
             max_per_case: int | None = None) -> list[ReportedURL]:
    _require_open(case)
    if max_per_case is not None and urls:
        held = session.scalar(select(func.count()).select_from(ReportedURL)
                              .where(ReportedURL.case_id == case.id)) or 0
        if held + len(urls) > max_per_case:
            raise CaseFull("urls", max_per_case, held)
    added = add_normalized_urls(session, case, [normalize_url(url) for url in urls],
                                reported_by="victim", now=now, first_check_delay=first_check_delay)
    reopen_for_new_urls(session, case, now)
    _victim_audit(session, "victim.urls_added", case, now, count=len(added))
    return added


def add_hashes(session: Session, case: Case, hashes: list[SubmittedHash],
               now: datetime, max_per_case: int | None = None) -> list[MediaHash]:
    _require_open(case)
    held = list(session.scalars(select(MediaHash.sha256).where(MediaHash.case_id == case.id)))
    hashes = distinct_hashes(hashes, set(held))
    if max_per_case is not None and len(held) + len(hashes) > max_per_case:
        raise CaseFull("hashes", max_per_case, len(held))
    added = [add_media_hash(session, case, submitted, now) for submitted in hashes]
    case.updated_at = now
    _victim_audit(session, "victim.hashes_added", case, now, count=len(added))
    return added


def send_victim_message(session: Session, case: Case, body: str, cipher: DataCipher,
                        now: datetime) -> Message:
    if case.status == "erased":
        raise CaseClosedToChanges(case.status)
    message = post_message(session, case, direction="from_victim", body=body, cipher=cipher,
                           now=now)
    _victim_audit(session, "victim.message_sent", case, now)
    return message


def mark_messages_read(session: Session, case: Case, now: datetime) -> None:
    session.execute(update(Message).where(Message.case_id == case.id,
                                          Message.direction == "to_victim",
                                          Message.read_at.is_(None)).values(read_at=now))


def forget_contact(session: Session, case: Case, now: datetime) -> None:
    """The victim wants no more update e-mails: their address is deleted."""
    case.contact_encrypted = None
    case.updated_at = now
    forget_confirmation(session, case.id)
    _victim_audit(session, "victim.contact_removed", case, now)


def withdraw_case(session: Session, case: Case, now: datetime) -> None:
    """Hashes leave the exchange at once (status withdrawn); URL checks stop; notices not yet
    sent are cancelled (each feature does its part on `case_withdrawn`)."""
    _require_open(case)
    require_listeners(case_withdrawn)
    set_status(session, case, "withdrawn", now=now)
    case.withdrawn_at = now
    case.updated_at = now
    case_withdrawn.send(case, session=session, now=now)
    _victim_audit(session, "victim.case_withdrawn", case, now)


def erase_case(session: Session, case: Case, now: datetime) -> None:
    """Delete the case's personal data: each feature erases its own on `case_erased`. What
    stays is anonymous: dates, states and platforms for the statistics, and the hash values
    as tombstones marked deleted, so partner platforms are told to delete them (a retention
    purge removes them later). The caller commits, then calls listeners.after_erasure."""
    if case.status == "erased":
        return
    require_listeners(case_erased)
    urls = {url_id: url for url_id, url in session.execute(
        select(ReportedURL.id, ReportedURL.url).where(ReportedURL.case_id == case.id))}
    set_status(session, case, "erased", now=now)
    case.erased_at = now
    case.updated_at = now
    case_erased.send(case, session=session, now=now, urls=urls)
    _victim_audit(session, "victim.case_erased", case, now)


def _victim_audit(session: Session, action: str, case: Case, now: datetime, **detail: int) -> None:
    """The victim's actions, with counts only: no address, no text, no client address."""
    record_audit(session, action=action, now=now, actor_kind="victim", record=case, **detail)


def request_dates(session: Session, case: Case) -> dict[int, datetime]:
    """For each of the case's URLs, when a removal request for it was first sent."""
    rows = session.execute(
        select(removal_request_urls.c.url_id, func.min(RemovalRequest.sent_at))
        .join(RemovalRequest, RemovalRequest.id == removal_request_urls.c.request_id)
        .where(RemovalRequest.case_id == case.id, RemovalRequest.sent_at.is_not(None))
        .group_by(removal_request_urls.c.url_id))
    return {url_id: sent_at for url_id, sent_at in rows}
