"""Platform registry, notices and the outbox. Takes a session and `now`; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import jinja2
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
from disrupt.paths import templates_dir
from disrupt.platforms.hosts import domain_candidates
from disrupt.platforms.models import LEGAL_BASES, Platform, PlatformDomain, RemovalRequest

LEGAL_BASIS_NAMES = {
    "dsa_art16": "EU Digital Services Act, art. 16",
    "take_it_down": "US TAKE IT DOWN Act",
    "lcen_art6": "LCEN art. 6 (France)",
}
NOTICE_LANGUAGES = ("en", "fr")


class NoticeError(ValueError):
    pass


@dataclass(frozen=True)
class Notifier:
    """The organisation sending notices (from the settings)."""

    name: str
    email: str
    trusted_flagger: bool


def platform_for_host(session: Session, host: str) -> Platform | None:
    candidates = domain_candidates(host)
    if not candidates:
        return None
    rows = session.execute(
        select(PlatformDomain.domain, PlatformDomain.platform_id).where(
            PlatformDomain.domain.in_(candidates)
        )
    ).all()
    if not rows:
        return None
    by_domain = dict(rows)
    for domain in candidates:  # most specific first
        if domain in by_domain:
            return session.get(Platform, by_domain[domain])
    return None


def add_platform(
    session: Session, *, name: str, domains: list[str], channel: str = "email",
    contact: str | None = None, deadline_hours: int = 48, jurisdiction: str | None = None,
    trusted_flagger: bool = False, default_legal_basis: str = "dsa_art16",
    removal_rules: dict | None = None,
) -> Platform:
    platform = Platform(
        name=name, channel=channel, contact=contact, deadline_hours=deadline_hours,
        jurisdiction=jurisdiction, trusted_flagger=trusted_flagger,
        default_legal_basis=default_legal_basis, removal_rules=removal_rules or {},
    )
    platform.domains = [PlatformDomain(domain=d.strip().lower().rstrip(".")) for d in domains]
    session.add(platform)
    session.flush()
    return platform


@lru_cache(maxsize=1)
def _notice_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "notices")),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_notice(
    *, case: Case, platform: Platform, urls: list[ReportedURL], legal_basis: str,
    language: str, notifier: Notifier, now: datetime,
) -> tuple[str, str]:
    """Subject and body of a notice; the template carries what the law asks for."""
    if legal_basis not in LEGAL_BASES:
        raise NoticeError(f"unknown legal basis {legal_basis!r}")
    if language not in NOTICE_LANGUAGES:
        raise NoticeError(f"no notice template in language {language!r}")
    if not urls:
        raise NoticeError("a notice needs at least one URL")
    text = _notice_env().get_template(f"{legal_basis}.{language}.txt").render(
        case=case,
        platform=platform,
        urls=[u.url for u in urls],
        pdq_hashes=[h.pdq for h in case.hashes if h.pdq and h.status == "active"],
        sha256_hashes=[h.sha256 for h in case.hashes if h.status == "active"],
        notifier=notifier,
        date=now.strftime("%Y-%m-%d %H:%M UTC"),
        deadline_hours=platform.deadline_hours,
        minor=case.is_minor,
    )
    subject_line, _, body = text.partition("\n")
    if not subject_line.startswith("Subject: "):
        raise NoticeError("notice template must start with a Subject: line")
    return subject_line.removeprefix("Subject: ").strip(), body.lstrip("\n")


def queue_removal_request(
    session: Session, *, case: Case, platform: Platform, urls: list[ReportedURL],
    legal_basis: str, language: str, notifier: Notifier, now: datetime,
    created_by_id: int | None = None,
) -> RemovalRequest:
    """Render the notice and put it in the outbox; the worker sends it."""
    foreign = [u.url for u in urls if u.platform_id != platform.id or u.case_id != case.id]
    if foreign:
        raise NoticeError(f"URLs not on {platform.name} in this case: {', '.join(foreign)}")
    if platform.channel not in ("email", "api"):
        raise NoticeError(f"{platform.name} takes notices by {platform.channel}: record it by hand")
    if not platform.contact:
        raise NoticeError(f"{platform.name} has no contact for notices yet")
    subject, body = render_notice(
        case=case, platform=platform, urls=urls, legal_basis=legal_basis,
        language=language, notifier=notifier, now=now,
    )
    request = RemovalRequest(
        case_id=case.id,
        platform=platform,
        legal_basis=legal_basis,
        language=language,
        channel=platform.channel,
        recipient=platform.contact,
        subject=subject,
        body=body,
        idempotency_key=uuid.uuid4().hex,
        status="queued",
        next_attempt_at=now,
        created_by_id=created_by_id,
        created_at=now,
    )
    request.urls = list(urls)
    session.add(request)
    if case.status == "new":
        case.status = "in_progress"
    case.updated_at = now
    return request


def claim_queued_requests(
    session: Session, *, worker: str, now: datetime, lease: timedelta, limit: int = 20
) -> list[int]:
    """Lease due requests to this worker; another worker takes them over if the lease lapses."""
    due = select(RemovalRequest.id).where(
        RemovalRequest.status == "queued",
        RemovalRequest.next_attempt_at <= now,
        or_(RemovalRequest.lease_expires_at.is_(None), RemovalRequest.lease_expires_at < now),
    ).order_by(RemovalRequest.next_attempt_at, RemovalRequest.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(RemovalRequest)
        .where(RemovalRequest.id.in_(ids), or_(RemovalRequest.lease_expires_at.is_(None),
                                               RemovalRequest.lease_expires_at < now))
        .values(lease_owner=worker, lease_expires_at=now + lease)
    )
    return list(session.scalars(select(RemovalRequest.id).where(
        RemovalRequest.id.in_(ids), RemovalRequest.lease_owner == worker)))


def record_delivery(
    session: Session, request: RemovalRequest, *, worker: str, now: datetime, scale: float = 1.0
) -> bool:
    if request.lease_owner != worker:
        return False
    request.status = "sent"
    request.attempts += 1
    request.sent_at = now
    request.deadline_at = now + timedelta(hours=request.platform.deadline_hours) * scale
    request.last_error = None
    request.lease_owner = None
    request.lease_expires_at = None
    return True


def record_failed_delivery(
    session: Session, request: RemovalRequest, *, worker: str, error: str, now: datetime,
    retry_after: timedelta, max_attempts: int,
) -> bool:
    """Back off and retry; after max_attempts the request is failed and shown as such."""
    if request.lease_owner != worker:
        return False
    request.attempts += 1
    request.last_error = error[:500]
    request.lease_owner = None
    request.lease_expires_at = None
    if request.attempts >= max_attempts:
        request.status = "failed"
        request.next_attempt_at = None
    else:
        request.next_attempt_at = now + retry_after * (2 ** (request.attempts - 1))
    return True
