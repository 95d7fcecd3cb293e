"""Case work shared by the victim portal and the caseworker console. Never commits."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, object_session

from disrupt.cases.models import (
    AGE_GROUPS,
    PRIORITY_HIGH,
    PRIORITY_MINOR,
    PRIORITY_NORMAL,
    Case,
    MediaHash,
    Message,
    Note,
    ReportedURL,
)
from disrupt.cases.rules import ensure_work_allowed
from disrupt.cases.status import set_assignee, set_classification, set_status
from disrupt.events import require_listeners, url_state_changed, urls_reported
from disrupt.security import DataCipher
from disrupt.translatable import N_
from disrupt.urls.normalize import InvalidURL, host_of, normalize_many, normalize_url

_RANDOM = random.SystemRandom()

_HEX = re.compile(r"^[0-9a-f]+$")
MAX_HASHES_PER_CASE = 200
MAX_LABEL = 80
MAX_MESSAGE = 5000


class HashShapeError(ValueError):
    pass


@dataclass(frozen=True)
class SubmittedHash:
    """What the victim's browser sends for one file: hashes only."""

    kind: str
    sha256: str
    pipeline: str
    pdq: str | None = None
    pdq_quality: int | None = None
    phash: str | None = None
    md5: str | None = None
    label: str | None = None


def _hex(value: Any, length: int, name: str) -> str:
    if not isinstance(value, str) or len(value) != length or not _HEX.match(value.lower()):
        raise HashShapeError(f"{name} must be {length} hexadecimal characters")
    return value.lower()


def parse_submitted_hash(raw: Any) -> SubmittedHash:
    """Re-validate the shape of a hash object from the browser; refuse anything else."""
    if not isinstance(raw, dict):
        raise HashShapeError("each hash must be an object")
    allowed = {"kind", "sha256", "pipeline", "pdq", "pdq_quality", "phash", "md5", "label",
               "width", "height"}
    extra = set(raw) - allowed
    if extra:
        raise HashShapeError(f"unexpected fields: {', '.join(sorted(extra))}")
    kind = raw.get("kind") or ("image" if raw.get("pdq") or raw.get("phash") else "video")
    if kind not in ("image", "video"):
        raise HashShapeError("kind must be image or video")
    pipeline = raw.get("pipeline")
    if not isinstance(pipeline, str) or not 0 < len(pipeline) <= 120:
        raise HashShapeError("pipeline must be a short string")
    quality = raw.get("pdq_quality")
    if quality is not None and (not isinstance(quality, int) or not 0 <= quality <= 100):
        raise HashShapeError("pdq_quality must be an integer from 0 to 100")
    label = raw.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
        raise HashShapeError(f"label must be text of at most {MAX_LABEL} characters")
    return SubmittedHash(
        kind=kind,
        sha256=_hex(raw.get("sha256"), 64, "sha256"),
        pipeline=pipeline,
        pdq=_hex(raw["pdq"], 64, "pdq") if raw.get("pdq") is not None else None,
        pdq_quality=quality,
        phash=_hex(raw["phash"], 16, "phash") if raw.get("phash") is not None else None,
        md5=_hex(raw["md5"], 32, "md5") if raw.get("md5") is not None else None,
        label=label or None,
    )


def add_media_hash(
    session: Session, case: Case, submitted: SubmittedHash, now: datetime
) -> MediaHash:
    media = MediaHash(
        case=case,
        kind=submitted.kind,
        pdq=submitted.pdq,
        pdq_quality=submitted.pdq_quality,
        phash=submitted.phash,
        sha256=submitted.sha256,
        md5=submitted.md5,
        pipeline=submitted.pipeline,
        label=submitted.label,
        created_at=now,
    )
    session.add(media)
    return media


class DuplicateURL(ValueError):
    pass


def first_check_at(now: datetime, delay: timedelta) -> datetime:
    """When a new URL is first checked: after a random part (a fifth to all) of `delay`, so
    that a site cannot recognise the check by its timing against the report."""
    if delay <= timedelta(0):
        return now
    return now + delay * _RANDOM.uniform(0.2, 1.0)


def add_reported_url(
    session: Session, case: Case, raw_url: str, *, reported_by: str, now: datetime,
    first_check_delay: timedelta = timedelta(0),
) -> ReportedURL:
    """Normalise, refuse duplicates within the case, attach the platform, schedule a check."""
    return add_normalized_urls(session, case, [normalize_url(raw_url)], reported_by=reported_by,
                               now=now, first_check_delay=first_check_delay)[0]


def add_normalized_urls(
    session: Session, case: Case, urls: list[str], *, reported_by: str, now: datetime,
    first_check_delay: timedelta = timedelta(0),
) -> list[ReportedURL]:
    """Add addresses already normalised, announced together; one already in the case (or
    given twice) raises DuplicateURL and adds none."""
    existing = _already_in_case(session, case, urls)
    for url in urls:
        if url in existing:
            raise DuplicateURL(f"This address is already in the case: {url}")
        existing.add(url)
    return _attach(session, case, urls, reported_by=reported_by, now=now,
                   first_check_delay=first_check_delay)


def _already_in_case(session: Session, case: Case, urls: list[str]) -> set[str]:
    """Which of ``urls`` the case already holds (read along its unique (case, url) index)."""
    if not urls:
        return set()
    return set(session.scalars(select(ReportedURL.url).where(ReportedURL.case_id == case.id,
                                                             ReportedURL.url.in_(urls))))


def _attach(session: Session, case: Case, urls: list[str], *, reported_by: str, now: datetime,
            first_check_delay: timedelta) -> list[ReportedURL]:
    rows = [ReportedURL(case=case, url=url, host=host_of(url), reported_by=reported_by,
                        state="pending", next_check_at=first_check_at(now, first_check_delay),
                        created_at=now) for url in urls]
    if rows:
        session.add_all(rows)
        _announce(session, case, rows, now)
        case.updated_at = now
    return rows


def _announce(session: Session, case: Case, urls: list[ReportedURL], now: datetime) -> None:
    """Tell the features that follow new addresses (the platforms feature attaches each one
    to its platform, the dashboard counts it) before the caller sees them. Flushed first:
    the listeners get rows with ids."""
    require_listeners(urls_reported)
    session.flush()
    urls_reported.send(case, session=session, now=now, urls=urls)


def priority_for(age_group: str) -> int:
    return PRIORITY_MINOR if age_group == "minor" else PRIORITY_NORMAL


def case_queue(session: Session, *, limit: int = 50, offset: int = 0,
               assignee_id: int | None = None, open_only: bool = True) -> list[Case]:
    query = select(Case)
    if open_only:
        query = query.where(Case.status.in_(("new", "in_progress")))
    if assignee_id is not None:
        query = query.where(Case.assignee_id == assignee_id)
    query = query.order_by(Case.priority.desc(), Case.created_at, Case.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


__all__ = [
    "DuplicateURL",
    "HashShapeError",
    "InvalidURL",
    "SubmittedHash",
    "add_media_hash",
    "add_normalized_urls",
    "add_reported_url",
    "case_messages",
    "case_queue",
    "post_message",
    "parse_submitted_hash",
    "priority_for",
]


def post_message(
    session: Session, case: Case, *, direction: str, body: str, cipher: DataCipher,
    now: datetime, author_id: int | None = None,
) -> Message:
    """A message between the victim (from_victim) and the caseworkers (to_victim); the text
    is encrypted at rest."""
    if direction not in ("to_victim", "from_victim"):
        raise ValueError(f"unknown message direction {direction!r}")
    text = body.strip()
    if not text:
        raise ValueError("The message is empty.")
    if len(text) > MAX_MESSAGE:
        raise ValueError(f"Please keep the message under {MAX_MESSAGE} characters.")
    message = Message(case_id=case.id, direction=direction, author_id=author_id,
                      body_encrypted=cipher.encrypt(text), created_at=now)
    session.add(message)
    case.updated_at = now
    if direction == "to_victim":
        case.news_at = now
    return message


def mark_news(session: Session, case_ids: set[int], *, now: datetime) -> None:
    """Something the victim should hear of happened to these cases (a URL removed or back
    online): their news moves, and the victims' update e-mail follows (victims/updates.py)."""
    if case_ids:
        session.execute(update(Case).where(Case.id.in_(sorted(case_ids))).values(news_at=now))


def mark_victim_messages_read(session: Session, case: Case, now: datetime) -> int:
    """The caseworkers have read the victim's messages (by saying so, or by answering)."""
    result = session.execute(update(Message).where(
        Message.case_id == case.id, Message.direction == "from_victim",
        Message.read_at.is_(None)).values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def unread_victim_messages(session: Session, case_ids: list[int]) -> dict[int, int]:
    """How many messages from the victim no caseworker has read yet, per case."""
    if not case_ids:
        return {}
    return dict(session.execute(
        select(Message.case_id, func.count())
        .where(Message.case_id.in_(case_ids), Message.direction == "from_victim",
               Message.read_at.is_(None))
        .group_by(Message.case_id)).all())


def case_messages(session: Session, case: Case, cipher: DataCipher) -> list[tuple[Message, str]]:
    rows = session.scalars(select(Message).where(Message.case_id == case.id)
                           .order_by(Message.created_at, Message.id))
    return [(m, cipher.decrypt(m.body_encrypted) or "") for m in rows]


# --- caseworker console ---------------------------------------------------------------

MAX_PASTED_URLS = 1000
MAX_NOTE = 10000
CLOSE_OUTCOMES = {
    "removed": N_("All content removed"),
    "partly_removed": N_("Part of the content removed"),
    "not_removed": N_("Content still online, nothing more to do"),
    "referred": N_("Handed over to the authorities"),
    "not_ncii": N_("Not within our remit"),
    "duplicate": N_("Duplicate of another case"),
    "no_contact": N_("Victim did not follow up"),
}


class CaseActionError(ValueError):
    pass


def add_reported_urls(
    session: Session, case: Case, text: str, *, reported_by: str, now: datetime,
    first_check_delay: timedelta = timedelta(0),
) -> tuple[list[ReportedURL], list[tuple[str, str]]]:
    """Add one or many pasted addresses (normalised) in the caller's transaction.

    Returns the rows added and ``(as pasted, message)`` for each one refused: invalid, given
    twice in the paste, or already in the case."""
    urls, refused = normalize_many(text)
    if len(urls) > MAX_PASTED_URLS:
        raise CaseActionError(f"Paste at most {MAX_PASTED_URLS} addresses at once.")
    existing = _already_in_case(session, case, urls)
    fresh: list[str] = []
    for url in urls:
        if url in existing:
            refused.append((url, f"This address is already in the case: {url}"))
            continue
        fresh.append(url)
        existing.add(url)
    added = _attach(session, case, fresh, reported_by=reported_by, now=now,
                    first_check_delay=first_check_delay)
    return added, refused


def add_note(session: Session, case: Case, body: str, *, author_id: int, cipher: DataCipher,
             now: datetime) -> Note:
    """An internal note, encrypted at rest; never shown to the victim."""
    text = body.strip()
    if not text:
        raise CaseActionError("The note is empty.")
    if len(text) > MAX_NOTE:
        raise CaseActionError(f"Please keep the note under {MAX_NOTE} characters.")
    note = Note(case_id=case.id, author_id=author_id, body_encrypted=cipher.encrypt(text),
                created_at=now)
    session.add(note)
    case.updated_at = now
    return note


def _check_workable(case: Case) -> None:
    ensure_work_allowed(case, CaseActionError)


def _session_of(case: Case) -> Session:
    session = object_session(case)
    if session is None:
        raise ValueError("the case is not in a session")
    return session


def assign_case(case: Case, assignee_id: int | None, now: datetime) -> None:
    """Assign (or release with None); a new case starts being worked when assigned."""
    _check_workable(case)
    session = _session_of(case)
    set_assignee(session, case, assignee_id)
    if assignee_id is not None:
        start_work(session, case, now)
    case.updated_at = now


def start_work(session: Session, case: Case, now: datetime) -> None:
    """Something was done for a new case (a notice queued): it is being worked."""
    if case.status == "new":
        set_status(session, case, "in_progress", now=now)
    case.updated_at = now


def reopen_for_new_urls(session: Session, case: Case, now: datetime) -> None:
    """Addresses were added to a closed case, or one of its removed addresses is online
    again: it goes back to the queue."""
    if case.status == "closed":
        set_status(session, case, "in_progress", now=now)
        case.closed_at = None
    case.updated_at = now


def confirm_picture(case: Case, url: ReportedURL, now: datetime) -> None:
    """A caseworker saw the victim's picture on the page: from now on, a page that stops
    showing it may be called removed (docs/verdicts.md, M4/P5)."""
    _check_workable(case)
    if url.picture_confirmed_at is None:
        url.picture_confirmed_at = now
    case.updated_at = now


def resume_checking(case: Case, url: ReportedURL, now: datetime) -> None:
    """Check an address again that was given up on (invalid): due now, failures forgotten."""
    _check_workable(case)
    if url.state != "invalid":
        raise CaseActionError("This address is still being checked.")
    url.state = "indeterminate" if url.check_count else "pending"
    url.state_reason = "checking again (a caseworker asked)"
    url.network_failing_since = None
    url.indeterminate_streak = 0
    url.next_check_at = now
    case.updated_at = now
    url_state_changed.send(case.id, session=_session_of(case), now=now, url_ids=[url.id])


def close_case(case: Case, outcome: str, now: datetime) -> None:
    _check_workable(case)
    if outcome not in CLOSE_OUTCOMES:
        raise CaseActionError("Choose an outcome to close the case.")
    set_status(_session_of(case), case, "closed", now=now)
    case.outcome = outcome
    case.closed_at = now
    case.updated_at = now
    case.news_at = now


def reopen_case(case: Case, now: datetime) -> None:
    if case.status != "closed":
        raise CaseActionError("Only a closed case can be reopened.")
    set_status(_session_of(case), case, "in_progress", now=now)
    case.outcome = None
    case.closed_at = None
    case.updated_at = now


def classify_case(case: Case, *, age_group: str, high_priority: bool, now: datetime) -> None:
    """Minors always come first (DESIGN.md §1); otherwise high or normal priority."""
    _check_workable(case)
    if age_group not in AGE_GROUPS:
        raise CaseActionError(f"unknown age group {age_group!r}")
    if age_group == "minor":
        priority = PRIORITY_MINOR
    else:
        priority = PRIORITY_HIGH if high_priority else PRIORITY_NORMAL
    set_classification(_session_of(case), case, age_group=age_group, priority=priority, now=now)
    case.updated_at = now
