"""Platform registry, removal requests and the outbox. Takes a session and `now`; never
commits."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.rules import case_stopped, ensure_work_allowed
from disrupt.cases.services import start_work
from disrupt.events import urls_attached
from disrupt.platforms.hosts import domain_candidates, is_icann_public_suffix, platform_candidates
from disrupt.platforms.models import (
    CHANNELS,
    LEGAL_BASES,
    REPLY_STATUSES,
    Platform,
    PlatformDomain,
    RemovalRequest,
    RequestReply,
    removal_request_urls,
)
from disrupt.platforms.notices import (
    EMAIL_ADDRESS,
    LEGAL_BASIS_NAMES,
    NOTICE_LANGUAGES,
    NoticeError,
    NoticeInvalid,
    Notifier,
    clean_explanation,
    new_request_reference,
    render_follow_up,
    render_notice,
    render_notice_text,
)
from disrupt.platforms.waiting import announce_requests

__all__ = [
    "LEGAL_BASIS_NAMES", "NOTICE_LANGUAGES", "NoticeError", "NoticeInvalid", "Notifier",
    "PlatformError", "PlatformReply", "RemovalRules", "add_platform", "claim_queued_requests",
    "queue_follow_up", "queue_removal_request", "record_delivery", "record_failed_delivery",
    "record_reply", "render_notice", "render_notice_text", "platform_for_host",
    "retry_failed_request", "update_platform",
]

RULE_KEYS = ("soft_404_markers", "placeholder_redirects", "placeholder_digests")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PlatformError(ValueError):
    """Bad platform data; ``field`` names the form field it concerns, when one does."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- registry -------------------------------------------------------------------------------

@dataclass(frozen=True)
class RemovalRules:
    """What the URL checker treats as "removed" on this platform (DESIGN.md §6)."""

    soft_404_markers: tuple[str, ...] = ()      # text on a page that says it is gone
    placeholder_redirects: tuple[str, ...] = ()  # URL prefixes a removed item redirects to
    placeholder_digests: tuple[str, ...] = ()    # SHA-256 of placeholder media

    @classmethod
    def of(cls, platform: Platform | None) -> RemovalRules:
        rules = (platform.removal_rules if platform is not None else None) or {}
        return cls(**{key: tuple(rules.get(key) or ()) for key in RULE_KEYS})


def normalize_removal_rules(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PlatformError("removal_rules must be a mapping")
    unknown = set(raw) - set(RULE_KEYS)
    if unknown:
        raise PlatformError(f"unknown removal rule {sorted(unknown)[0]!r} "
                            f"(known: {', '.join(RULE_KEYS)})", "removal_rules")
    rules: dict[str, list[str]] = {}
    for key in RULE_KEYS:
        values = raw.get(key) or []
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise PlatformError(f"removal rule {key} must be a list of text", key)
        values = [v.strip() for v in values if v.strip()]
        if key == "placeholder_digests":
            values = [v.lower() for v in values]
            bad = [v for v in values if not _SHA256.match(v)]
            if bad:
                raise PlatformError(f"placeholder digest {bad[0]!r} is not a SHA-256 (64 hex)",
                                  key)
        if key == "placeholder_redirects":
            bad = [v for v in values if not v.startswith(("http://", "https://"))]
            if bad:
                raise PlatformError(f"placeholder redirect {bad[0]!r} is not an http(s) URL",
                                  key)
        if values:
            rules[key] = list(dict.fromkeys(values))
    return rules


def normalize_domain(raw: str) -> str:
    """A platform domain in canonical form; refuses malformed names and ICANN suffixes."""
    candidates = domain_candidates(raw)
    if not candidates:
        raise PlatformError(f"{raw.strip()!r} is not a domain name", "domains")
    domain = candidates[0]
    if is_icann_public_suffix(domain):
        raise PlatformError(f"{domain} is a public suffix: no single platform owns it",
                            "domains")
    return domain


def _check_contact(channel: str, contact: str | None) -> str | None:
    contact = (contact or "").strip() or None
    if contact is None:
        return None
    if channel == "email" and not EMAIL_ADDRESS.match(contact):
        raise PlatformError(f"{contact!r} is not an e-mail address", "contact")
    if channel in ("api", "webform") and not contact.startswith(("http://", "https://")):
        raise PlatformError(f"{contact!r} is not an http(s) URL", "contact")
    return contact


def _domains_free(session: Session, domains: list[str], platform: Platform | None) -> None:
    owners = session.execute(
        select(PlatformDomain.domain, Platform.name)
        .join(Platform, Platform.id == PlatformDomain.platform_id)
        .where(PlatformDomain.domain.in_(domains))
    ).all()
    for domain, owner in owners:
        if platform is None or owner != platform.name:
            raise PlatformError(f"{domain} already belongs to {owner}", "domains")


PLATFORM_FIELDS = ("name", "domains", "channel", "contact", "jurisdiction", "deadline_hours",
                   "trusted_flagger", "default_legal_basis", "removal_rules", "notes")


def _checked_domains(session: Session, name: str, fields: dict[str, Any],
                     platform: Platform | None) -> list[str] | None:
    """The normalised, free domains of ``fields``; None when they are not being changed."""
    if "domains" not in fields:
        if platform is None:
            raise PlatformError(f"{name}: a platform needs at least one domain", "domains")
        return None
    raw_domains = fields["domains"]
    if isinstance(raw_domains, str) or not isinstance(raw_domains, list | tuple):
        raise PlatformError(f"{name}: domains must be a list", "domains")
    try:
        domains = list(dict.fromkeys(normalize_domain(str(d)) for d in raw_domains))
    except PlatformError as exc:
        raise PlatformError(f"{name}: {exc}", "domains") from exc
    if not domains:
        raise PlatformError(f"{name}: a platform needs at least one domain", "domains")
    _domains_free(session, domains, platform)
    return domains


def _apply(session: Session, platform: Platform | None, fields: dict[str, Any]) -> Platform:
    unknown = set(fields) - set(PLATFORM_FIELDS)
    if unknown:
        raise PlatformError(f"unknown platform field {sorted(unknown)[0]!r}")
    target = platform or Platform(channel="none", deadline_hours=48, trusted_flagger=False,
                                  default_legal_basis="dsa_art16", removal_rules={})
    name = str(fields.get("name", target.name or "")).strip()
    if not name or len(name) > 120:
        raise PlatformError("a platform needs a name of at most 120 characters", "name")
    clash = session.scalar(select(Platform).where(Platform.name == name))
    if clash is not None and clash is not platform:
        raise PlatformError(f"a platform named {name} exists already", "name")
    channel = fields.get("channel", target.channel)
    if channel not in CHANNELS:
        raise PlatformError(f"{name}: channel must be one of {', '.join(CHANNELS)}", "channel")
    contact = _check_contact(channel, fields.get("contact", target.contact))
    basis = fields.get("default_legal_basis", target.default_legal_basis)
    if basis not in LEGAL_BASES:
        raise PlatformError(f"{name}: legal basis must be one of {', '.join(LEGAL_BASES)}",
                            "default_legal_basis")
    hours = fields.get("deadline_hours", target.deadline_hours)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24 * 90:
        raise PlatformError(f"{name}: deadline_hours must be a whole number from 1 to 2160",
                            "deadline_hours")
    jurisdiction = (fields.get("jurisdiction", target.jurisdiction) or "").strip() or None
    if jurisdiction is not None and len(jurisdiction) > 10:
        raise PlatformError(f"{name}: jurisdiction is a short code such as EU, US, FR",
                            "jurisdiction")
    trusted = fields.get("trusted_flagger", target.trusted_flagger)
    if not isinstance(trusted, bool):
        raise PlatformError(f"{name}: trusted_flagger must be true or false", "trusted_flagger")
    rules = normalize_removal_rules(fields.get("removal_rules", target.removal_rules))
    domains = _checked_domains(session, name, fields, platform)
    target.name = name
    target.channel = channel
    target.contact = contact
    target.default_legal_basis = basis
    target.deadline_hours = hours
    target.jurisdiction = jurisdiction
    target.trusted_flagger = trusted
    target.removal_rules = rules
    notes = fields.get("notes", target.notes)
    target.notes = str(notes).strip() or None if notes is not None else None
    if domains is not None:
        existing = {d.domain: d for d in target.domains}
        target.domains = [existing.get(d) or PlatformDomain(domain=d) for d in domains]
    if platform is None:
        session.add(target)
    session.flush()
    return target


def add_platform(
    session: Session, *, name: str, domains: list[str], channel: str = "email",
    contact: str | None = None, deadline_hours: int = 48, jurisdiction: str | None = None,
    trusted_flagger: bool = False, default_legal_basis: str = "dsa_art16",
    removal_rules: dict | None = None, notes: str | None = None,
) -> Platform:
    return _apply(session, None, dict(
        name=name, domains=domains, channel=channel, contact=contact,
        deadline_hours=deadline_hours, jurisdiction=jurisdiction,
        trusted_flagger=trusted_flagger, default_legal_basis=default_legal_basis,
        removal_rules=removal_rules or {}, notes=notes,
    ))


def update_platform(session: Session, platform: Platform, **fields: Any) -> Platform:
    """Change the given fields; re-attaches the reported URLs whose host now matches
    differently."""
    _apply(session, platform, fields)
    if "domains" in fields:
        reattach_urls(session)
    return platform


def reattach_urls(session: Session) -> int:
    """Point every reported URL at the platform its host matches now; returns the changes."""
    changed: list[int] = []
    cache: dict[str, int | None] = {}
    for url in session.scalars(select(ReportedURL)):
        if url.host not in cache:
            match = platform_for_host(session, url.host)
            cache[url.host] = match.id if match is not None else None
        if url.platform_id != cache[url.host]:
            url.platform_id = cache[url.host]
            changed.append(url.id)
    if changed:
        urls_attached.send(None, session=session, url_ids=changed)
    return len(changed)


def platform_for_host(session: Session, host: str) -> Platform | None:
    """The platform of the most specific registered domain covering ``host``: subdomains
    match, a registered operator of a private suffix (github.io) covers its users' sites,
    and an ICANN suffix (co.uk) never matches."""
    candidates = platform_candidates(host)
    if not candidates:
        return None
    rows = session.execute(
        select(PlatformDomain.domain, PlatformDomain.platform_id).where(
            PlatformDomain.domain.in_(candidates)
        )
    ).all()
    by_domain = dict(rows)
    for domain in candidates:  # most specific first
        if domain in by_domain:
            return session.get(Platform, by_domain[domain])
    return None


# --- removal requests -----------------------------------------------------------------------

def _sendable(platform: Platform) -> None:
    if platform.channel == "none":
        raise NoticeError(f"{platform.name} has no channel for notices yet: an admin sets it "
                          "on the platform's page")
    if platform.channel in ("email", "api") and not platform.contact:
        raise NoticeError(f"{platform.name} has no contact for notices yet")


def deadline_for(platform: Platform, sent_at: datetime, scale: float = 1.0) -> datetime:
    return sent_at + timedelta(hours=platform.deadline_hours) * scale


def _new_request(
    *, case_id: int, platform: Platform, legal_basis: str, language: str, subject: str,
    body: str, now: datetime, scale: float, created_by_id: int | None, **extra: Any,
) -> RemovalRequest:
    """A request in the outbox; a web-form platform's is recorded as sent by the caseworker
    who pasted it into the form, with its deadline from now."""
    manual = platform.channel == "webform"
    return RemovalRequest(
        case_id=case_id,
        platform=platform,
        legal_basis=legal_basis,
        language=language,
        channel=platform.channel,
        recipient=platform.contact,
        subject=subject[:300],
        body=body,
        idempotency_key=extra.pop("idempotency_key", None) or new_request_reference(),
        status="sent" if manual else "queued",
        attempts=1 if manual else 0,
        next_attempt_at=None if manual else now,
        sent_at=now if manual else None,
        deadline_at=deadline_for(platform, now, scale) if manual else None,
        created_by_id=created_by_id,
        created_at=now,
        **extra,
    )


#: Requests still waiting on the platform (or to be sent): a URL in one of them is not sent
#: again as a new request; the caseworker follows that request up instead.
OPEN_REQUEST_STATUSES = ("draft", "queued", "sent", "acknowledged")


def open_requests_by_url(session: Session, url_ids: list[int],
                         platform_id: int) -> dict[int, RemovalRequest]:
    """The open first request (not a follow-up) to ``platform_id`` covering each URL."""
    if not url_ids:
        return {}
    rows = session.execute(
        select(removal_request_urls.c.url_id, RemovalRequest)
        .join(RemovalRequest, RemovalRequest.id == removal_request_urls.c.request_id)
        .where(removal_request_urls.c.url_id.in_(url_ids),
               RemovalRequest.platform_id == platform_id,
               RemovalRequest.follow_up_of_id.is_(None),
               RemovalRequest.status.in_(OPEN_REQUEST_STATUSES))
        .order_by(RemovalRequest.created_at)).all()
    return {url_id: request for url_id, request in rows}


def queue_removal_request(
    session: Session, *, case: Case, platform: Platform, urls: list[ReportedURL],
    legal_basis: str, language: str, notifier: Notifier, now: datetime,
    created_by_id: int | None = None, explanation: str | None = None, scale: float = 1.0,
    intimacy_confirmed: bool = False, escalation: bool = False,
) -> RemovalRequest:
    """Render and validate the notice, then put it in the outbox (e-mail, API): the worker
    sends it. A web-form platform's notice is recorded as sent by the caseworker who pasted
    it into the form, with its deadline from now. An ``escalation`` (platforms/escalation.py)
    goes to the host, CDN or registrar of URLs that belong to another platform."""
    ensure_work_allowed(case, NoticeError)
    foreign = [u.url for u in urls if u.case_id != case.id
               or (u.platform_id != platform.id and not escalation)]
    if foreign:
        raise NoticeError(f"URLs not on {platform.name} in this case: {', '.join(foreign)}")
    covered = open_requests_by_url(session, [u.id for u in urls], platform.id)
    if covered:
        first = min(covered.values(), key=lambda r: r.id)
        raise NoticeError(f"{len(covered)} of these addresses are already in request {first.id} "
                          f"to {platform.name}, still open: follow that request up instead of "
                          "sending a new one")
    _sendable(platform)
    explanation = clean_explanation(explanation)
    reference = new_request_reference()
    subject, body = render_notice(
        case=case, platform=platform, urls=urls, legal_basis=legal_basis,
        language=language, notifier=notifier, now=now, explanation=explanation,
        reference=reference, intimacy_confirmed=intimacy_confirmed,
    )
    request = _new_request(
        case_id=case.id, platform=platform, legal_basis=legal_basis, language=language,
        subject=subject, body=body, now=now, scale=scale, created_by_id=created_by_id,
        explanation=explanation, idempotency_key=reference,
    )
    request.urls = list(urls)
    session.add(request)
    start_work(session, case, now)
    announce_requests(session, [request], now=now)
    return request


def _case_of(session: Session, request: RemovalRequest) -> Case:
    case = session.get(Case, request.case_id)
    if case is None:
        raise NoticeError("this request's case no longer exists")
    return case


def queue_follow_up(
    session: Session, original: RemovalRequest, *, now: datetime,
    created_by_id: int | None = None, scale: float = 1.0,
) -> RemovalRequest:
    """A reminder to the platform quoting the original notice, through the same channel."""
    ensure_work_allowed(_case_of(session, original), NoticeError)
    if original.sent_at is None:
        raise NoticeError("only a request that was sent can be followed up")
    platform = original.platform
    _sendable(platform)
    subject, body = render_follow_up(original, language=original.language, now=now,
                                     case=session.get(Case, original.case_id))
    follow_up = _new_request(
        case_id=original.case_id, platform=platform, legal_basis=original.legal_basis,
        language=original.language, subject=subject, body=body, now=now, scale=scale,
        created_by_id=created_by_id, follow_up_of_id=original.id,
        platform_reference=original.platform_reference,
    )
    follow_up.urls = list(original.urls)
    session.add(follow_up)
    announce_requests(session, [follow_up], now=now)
    return follow_up


def retry_failed_request(session: Session, request: RemovalRequest, *, now: datetime) -> None:
    """Put a failed request back in the outbox (after its contact was fixed, say)."""
    ensure_work_allowed(_case_of(session, request), NoticeError)
    if request.status != "failed":
        raise NoticeError("only a failed request can be retried")
    _sendable(request.platform)
    request.status = "queued"
    request.channel = request.platform.channel
    request.recipient = request.platform.contact
    request.attempts = 0
    request.next_attempt_at = now
    request.lease_owner = None
    request.lease_expires_at = None


# --- the outbox -----------------------------------------------------------------------------

#: What a request not sent because the victim stopped its case says, by case status.
CANCEL_REASONS = {"withdrawn": "withdrawn by the victim", "erased": "case erased"}


def cancel_queued_requests(session: Session, case_id: int, reason: str) -> None:
    """Notices not sent yet are cancelled: kept as failed, with the reason, never sent."""
    session.execute(update(RemovalRequest).where(
        RemovalRequest.case_id == case_id, RemovalRequest.status.in_(("draft", "queued")),
    ).values(status="failed", last_error=reason, next_attempt_at=None, lease_owner=None,
             lease_expires_at=None))


def cancel_requests_of_stopped_cases(session: Session) -> int:
    """What the withdrawal listener missed (a process that did not connect it, a request
    queued in a transaction that raced the withdrawal) is cancelled here."""
    cancelled = 0
    for status, reason in CANCEL_REASONS.items():
        stopped = exists().where(Case.id == RemovalRequest.case_id, Case.status == status) \
            .correlate_except(Case)
        result = session.execute(update(RemovalRequest).where(
            RemovalRequest.status.in_(("draft", "queued")), stopped,
        ).values(status="failed", last_error=reason, next_attempt_at=None, lease_owner=None,
                 lease_expires_at=None))
        cancelled += result.rowcount or 0
    return cancelled


def claim_queued_requests(
    session: Session, *, worker: str, now: datetime, lease: timedelta, limit: int = 20
) -> list[int]:
    """Lease due requests to this worker; another worker takes them over if the lease lapses.
    A worker restarted under the same name takes its own leases back at once. A request
    of a case the victim stopped is never claimed, and is cancelled if it is still queued."""
    cancel_requests_of_stopped_cases(session)
    free = or_(RemovalRequest.lease_expires_at.is_(None), RemovalRequest.lease_expires_at < now,
               RemovalRequest.lease_owner == worker)
    due = select(RemovalRequest.id).where(
        RemovalRequest.status == "queued", RemovalRequest.next_attempt_at <= now, free,
        ~case_stopped(RemovalRequest.case_id),
    ).order_by(RemovalRequest.next_attempt_at, RemovalRequest.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(RemovalRequest)
        .where(RemovalRequest.id.in_(ids), free, ~case_stopped(RemovalRequest.case_id))
        .values(lease_owner=worker, lease_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(select(RemovalRequest.id).where(
        RemovalRequest.id.in_(ids), RemovalRequest.lease_owner == worker)))


@dataclass(frozen=True)
class PlatformReply:
    """What a platform said about a request (in its API answer, or to a caseworker)."""

    status: str | None = None       # acknowledged / actioned / rejected
    reason: str | None = None
    reference: str | None = None    # the platform's own ticket number


def record_delivery(
    session: Session, request: RemovalRequest, *, worker: str, now: datetime, scale: float = 1.0,
    reply: PlatformReply | None = None,
) -> bool:
    if request.lease_owner != worker or request.status != "queued":
        return False
    request.status = "sent"
    request.attempts += 1
    request.sent_at = now
    request.deadline_at = deadline_for(request.platform, now, scale)
    request.last_error = None
    request.next_attempt_at = None
    request.lease_owner = None
    request.lease_expires_at = None
    if reply is not None and reply.reference:
        request.platform_reference = reply.reference[:120]
    if reply is not None and reply.status in REPLY_STATUSES:
        record_reply(session, request, status=reply.status, reason=reply.reason,
                     reference=reply.reference, source="api", now=now)
    else:
        announce_requests(session, [request], now=now)
    return True


def record_failed_delivery(
    session: Session, request: RemovalRequest, *, worker: str, error: str, now: datetime,
    retry_after: timedelta, max_attempts: int, permanent: bool = False,
) -> bool:
    """Back off and retry; after max_attempts (or a refusal that a retry cannot fix) the
    request is failed and shown as such."""
    if request.lease_owner != worker or request.status != "queued":
        return False
    request.attempts += 1
    request.last_error = error[:500]
    request.lease_owner = None
    request.lease_expires_at = None
    if permanent or request.attempts >= max_attempts:
        request.status = "failed"
        request.next_attempt_at = None
    else:
        request.next_attempt_at = now + retry_after * (2 ** (request.attempts - 1))
    return True


def record_reply(
    session: Session, request: RemovalRequest, *, status: str, now: datetime,
    reason: str | None = None, reference: str | None = None, source: str = "caseworker",
    author_id: int | None = None,
) -> RequestReply:
    """The platform acknowledged, actioned or rejected the request (a rejection needs its
    reason)."""
    if status not in REPLY_STATUSES:
        raise NoticeError(f"a reply is one of {', '.join(REPLY_STATUSES)}")
    reason = (reason or "").strip() or None
    reference = (reference or "").strip()[:120] or None
    if status == "rejected" and not reason:
        raise NoticeError("a rejection needs the reason the platform gave")
    if request.sent_at is None:
        raise NoticeError("this request has not been sent yet")
    reply = RequestReply(status=status, reason=reason, platform_reference=reference,
                         source=source, author_id=author_id, received_at=now)
    request.replies.append(reply)
    request.status = status
    request.replied_at = now
    request.reply_reason = reason
    if reference:
        request.platform_reference = reference
    announce_requests(session, [request], now=now)
    return reply
