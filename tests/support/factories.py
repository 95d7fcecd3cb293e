"""The one place tests build domain rows: cases, reported URLs, fingerprints, removal
requests and users. Each builder adds to the caller's session and flushes; the caller owns the
commit, as a view or job would. Builders write rows directly (a test states the exact state it
needs) and announce them as the writers would (the queue's tallies, the statistics, the
waiting deadlines follow); `report_urls` goes through the cases service, as a victim or
caseworker would."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from disrupt.accounts.models import User
from disrupt.accounts.services import create_user
from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.cases.services import add_reported_url
from disrupt.cases.status import add_case
from disrupt.events import checks_recorded, url_state_changed
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.platforms.models import Platform, RemovalRequest
from disrupt.platforms.waiting import announce_requests
from disrupt.urls.normalize import host_of

PDQ = "ab" * 32
SHA256 = "cd" * 32
PASSWORD = "correct horse battery"


def make_case(session: Session, *, now: datetime, reference: str | None = None,
              urls: Iterable[str] = (), images: Iterable[bytes] = (), hashes: int = 0,
              platform_id: int | None = None, **fields: Any) -> Case:
    """A case created at ``now`` (adult, English, in progress unless ``fields`` say otherwise),
    with ``hashes`` placeholder fingerprints, the real fingerprints of ``images``, and ``urls``
    due for a check at ``now``."""
    values: dict[str, Any] = dict(status="in_progress", age_group="adult", language="en",
                                  created_at=now, updated_at=now)
    values.update(fields)
    case = Case(reference=reference or f"T-{uuid.uuid4().hex[:8].upper()}", **values)
    add_case(session, case)
    session.flush()
    for _ in range(hashes):
        add_hash(session, case, now=now)
    for image in images:
        add_hash(session, case, now=now, image=image)
    for url in urls:
        add_url(session, case, url, now=now, platform_id=platform_id)
    session.flush()
    return case


def add_hash(session: Session, case: Case, *, now: datetime,
             image: bytes | None = None) -> MediaHash:
    """A fingerprint: the real hashes of ``image``, or a fixed placeholder."""
    if image is None:
        media = MediaHash(case=case, kind="image", pdq=PDQ, pdq_quality=90, sha256=SHA256,
                          pipeline="test", created_at=now)
    else:
        h = hash_image_bytes(image)
        media = MediaHash(case=case, kind="image", pdq=h["pdq"], pdq_quality=h["pdq_quality"],
                          phash=h["phash"], sha256=h["sha256"], pipeline=h["pipeline"],
                          created_at=now)
    session.add(media)
    session.flush()
    return media


def add_url(session: Session, case: Case, url: str, *, now: datetime,
            platform: Platform | None = None, platform_id: int | None = None,
            state: str = "pending", reported_by: str = "victim",
            next_check_at: datetime | None = None, **fields: Any) -> ReportedURL:
    """A reported URL row as it stands (no normalisation, no events), due at ``now``."""
    if platform is not None:
        fields["platform"] = platform
    elif platform_id is not None:
        fields["platform_id"] = platform_id
    reported = ReportedURL(case=case, url=url, host=host_of(url), state=state,
                           reported_by=reported_by, created_at=now,
                           next_check_at=next_check_at or now, **fields)
    session.add(reported)
    session.flush()
    url_state_changed.send(case.id, session=session, now=now, url_ids=[reported.id])
    return reported


def set_url_states(session: Session, states: dict[ReportedURL, str], *,
                   now: datetime) -> None:
    """URL states as the worker's checks leave them, announced as
    monitoring.services.record_checks does (`checks_recorded`)."""
    for url, state in states.items():
        url.state = state
    announce_checks(session, list(states), now=now)


def announce_checks(session: Session, urls: list[ReportedURL], *, now: datetime) -> None:
    """Checks written to ``urls`` by hand, announced as record_checks announces its own
    (every case counted as one whose removal may have moved)."""
    session.flush()
    checks_recorded.send(None, session=session, now=now, url_ids=[u.id for u in urls],
                         removal_moved={u.case_id for u in urls})


def report_urls(session: Session, case: Case, urls: Iterable[str], *, now: datetime,
                reported_by: str = "caseworker") -> list[ReportedURL]:
    """URLs reported through the cases service: normalised, platform attached, events sent."""
    reported = [add_reported_url(session, case, url, reported_by=reported_by, now=now)
                for url in urls]
    session.flush()
    return reported


def make_request(session: Session, case: Case, platform: Platform,
                 urls: Iterable[ReportedURL], *, sent_at: datetime,
                 legal_basis: str = "dsa_art16", status: str = "sent",
                 **fields: Any) -> RemovalRequest:
    """A removal request sent at ``sent_at`` with the platform's deadline."""
    values: dict[str, Any] = dict(
        case_id=case.id, platform_id=platform.id, legal_basis=legal_basis, language="en",
        channel="email", recipient="abuse@example.test", subject="s", body="b",
        idempotency_key=uuid.uuid4().hex, status=status, created_at=sent_at, sent_at=sent_at,
        deadline_at=sent_at + timedelta(hours=platform.deadline_hours))
    values.update(fields)
    request = RemovalRequest(**values)
    request.urls = list(urls)
    session.add(request)
    announce_requests(session, [request], now=sent_at)
    return request


def make_user(session: Session, email: str, role: str = "caseworker", *, now: datetime,
              name: str | None = None, password: str = PASSWORD) -> User:
    """A staff account with ``password`` (no second factor: see tests/support/staff.py)."""
    user = create_user(session, email=email, name=name or email.split("@")[0],
                       password=password, role=role, now=now)
    session.flush()
    return user
