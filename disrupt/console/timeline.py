"""Everything that happened to a case, in time order: victim actions, URLs, checks,
notices, messages, notes, referrals and the caseworkers' actions from the audit log."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.accounts.models import AuditEvent, User
from disrupt.cases.models import Case, MediaHash, Message, Note, Referral, ReportedURL
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import RemovalRequest
from disrupt.security import DataCipher
from disrupt.wording import detail_text, words

# Audit actions whose record is shown from its own table instead (or that are only reads).
_SHOWN_FROM_RECORDS = {
    "view_case", "add_url", "add_urls", "queue_removal_request", "add_note", "post_message",
    "record_referral", "victim.urls_added", "victim.hashes_added", "victim.message_sent",
}


def _recipient(label: str) -> str:
    """Referral recipients as disrupt.platforms.referrals records them."""
    if label.startswith("hotline:"):
        return f"the partner hotline {label.removeprefix('hotline:')}"
    return {"pharos": "PHAROS", "police": "the police", "hotline": "a partner hotline"}.get(
        label, label)

ACTION_TEXT = {
    "assign_case": "Case assigned",
    "release_case": "Case released to the queue",
    "change_status": "Status changed",
    "close_case": "Case closed",
    "reopen_case": "Case reopened",
    "learn_host_provider": "Hosting provider added to the platform registry",
    "climb_ladder": "Escalation: next rung taken",
    "ladder_submitted": "Escalation: recorded as submitted on the form",
    "ladder_outcome": "Escalation: outcome recorded",
    "classify_case": "Classification changed",
    "victim.case_opened": "Case opened by the victim",
    "victim.case_withdrawn": "Case withdrawn by the victim",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # victim / url / check / notice / message / note / referral / action / hash
    text: str
    who: str | None = None
    detail: str | None = None
    deadline: datetime | None = None  # the page writes it in the organisation's zone


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def _hash_entries(session: Session, case: Case) -> list[TimelineEntry]:
    entries = []
    for media in session.scalars(select(MediaHash).where(MediaHash.case_id == case.id)):
        label = f" ({media.label})" if media.label else ""
        entries.append(TimelineEntry(media.created_at, "hash",
                                     f"{media.kind.capitalize()} fingerprint added{label}"))
        if media.status != "active" and media.status_changed_at:
            entries.append(TimelineEntry(media.status_changed_at, "hash",
                                         f"{media.kind.capitalize()} fingerprint {media.status}"
                                         f"{label}"))
    return entries


def _url_entries(session: Session, case: Case) -> list[TimelineEntry]:
    urls = list(session.scalars(select(ReportedURL).where(ReportedURL.case_id == case.id)))
    by_id = {u.id: u for u in urls}
    entries = [TimelineEntry(url.created_at, "url", "Address reported", url.reported_by, url.url)
               for url in urls]
    if not by_id:
        return entries
    previous: dict[int, str] = {}
    for check in session.scalars(
        select(URLCheck).where(URLCheck.reported_url_id.in_(by_id))
        .order_by(URLCheck.reported_url_id, URLCheck.checked_at, URLCheck.id)
    ):
        # Only the checks that changed what is known; the URL table has them all.
        if previous.get(check.reported_url_id) != check.verdict:
            entries.append(TimelineEntry(
                check.checked_at, "check", f"Check: {check.verdict}", "checker",
                f"{by_id[check.reported_url_id].url} — {check.reason}"))
        previous[check.reported_url_id] = check.verdict
    return entries


def _request_entries(requests: list[RemovalRequest],
                     names: dict[int, str]) -> list[TimelineEntry]:
    entries = []
    for request in requests:
        urls_text = ", ".join(u.url for u in request.urls)
        entries.append(TimelineEntry(
            request.created_at, "notice",
            f"Removal request to {request.platform.name} queued "
            f"({words(request.legal_basis, 'legal_basis')})",
            names.get(request.created_by_id or 0), urls_text))
        if request.sent_at:
            entries.append(TimelineEntry(
                request.sent_at, "notice",
                f"Removal request sent to {request.platform.name} by "
                f"{words(request.channel, 'channel')}",
                "outbox", f"now: {words(request.status, 'request_status')}",
                deadline=request.deadline_at))
    return entries


def _conversation_entries(notes: list[Note], messages: list[Message],
                          referrals: list[Referral], names: dict[int, str],
                          cipher: DataCipher) -> list[TimelineEntry]:
    entries = [TimelineEntry(note.created_at, "note", "Internal note",
                             names.get(note.author_id or 0), cipher.decrypt(note.body_encrypted))
               for note in notes]
    for message in messages:
        if message.direction == "from_victim":
            entries.append(TimelineEntry(message.created_at, "message", "Message from the victim",
                                         "victim", cipher.decrypt(message.body_encrypted)))
        else:
            entries.append(TimelineEntry(message.created_at, "message", "Message to the victim",
                                         names.get(message.author_id or 0),
                                         cipher.decrypt(message.body_encrypted)))
    for referral in referrals:
        reference = (f"their reference {referral.their_reference}" if referral.their_reference
                     else "no reference from them yet")
        entries.append(TimelineEntry(
            referral.sent_at, "referral", f"Referred to {_recipient(referral.recipient)}",
            names.get(referral.author_id or 0), reference))
    return entries


def _audit_entries(case: Case, events: list[AuditEvent],
                   names: dict[int, str]) -> list[TimelineEntry]:
    entries = []
    logged = {event.action for event in events}
    if "victim.case_opened" not in logged:  # cases opened before the portal logged it
        entries.append(TimelineEntry(case.created_at, "victim", "Case opened by the victim",
                                     "victim"))
    if case.withdrawn_at and "victim.case_withdrawn" not in logged:
        entries.append(TimelineEntry(case.withdrawn_at, "victim", "Case withdrawn by the victim",
                                     "victim"))
    for event in events:
        detail = detail_text(event.detail or {}, names)
        who = names.get(event.actor_id or 0) or event.actor_kind
        entries.append(TimelineEntry(event.at, "victim" if event.actor_kind == "victim"
                                     else "action",
                                     ACTION_TEXT.get(event.action,
                                                     event.action.replace("_", " ").capitalize()),
                                     who, detail or None))
    return entries


def case_timeline(session: Session, case: Case, cipher: DataCipher) -> list[TimelineEntry]:
    requests = list(session.scalars(select(RemovalRequest).where(
        RemovalRequest.case_id == case.id)))
    notes = list(session.scalars(select(Note).where(Note.case_id == case.id)))
    messages = list(session.scalars(select(Message).where(Message.case_id == case.id)))
    referrals = list(session.scalars(select(Referral).where(Referral.case_id == case.id)))
    events = list(session.scalars(select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action.not_in(_SHOWN_FROM_RECORDS))))
    user_ids: set[int] = set()
    for row in (*requests, *notes, *messages, *referrals, *events):
        for attr in ("created_by_id", "author_id", "actor_id"):
            if getattr(row, attr, None):
                user_ids.add(getattr(row, attr))
    user_ids |= {int(e.detail["assignee_id"]) for e in events
                 if str((e.detail or {}).get("assignee_id") or "").isdigit()}
    names = _names(session, user_ids)
    entries = [*_hash_entries(session, case), *_url_entries(session, case),
               *_audit_entries(case, events, names), *_request_entries(requests, names),
               *_conversation_entries(notes, messages, referrals, names, cipher)]
    order = {kind: i for i, kind in enumerate(
        ("victim", "hash", "url", "action", "notice", "referral", "message", "note", "check"))}
    entries.sort(key=lambda e: (e.at, order.get(e.kind, 99)))
    return entries
