"""Which removal request a platform's e-mail answers. A notice carries its request's opaque
reference (the idempotency key) in its subject and body, and its Message-ID is
<notice-KEY@…>: a reply is threaded by its In-Reply-To / References headers, else by the
reference it quotes. Never by the victim's case reference, which no notice carries."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.platforms.mailbox import ParsedMessage
from disrupt.platforms.models import MailboxCursor, MailboxMessage, RemovalRequest, RequestReply
from disrupt.platforms.notices import NoticeError
from disrupt.platforms.reply_rules import propose_status
from disrupt.platforms.services import record_reply

_MESSAGE_ID_KEY = re.compile(r"<notice-([0-9a-f]{32})@", re.IGNORECASE)
_QUOTED_KEY = re.compile(r"(?<![0-9a-f])([0-9a-f]{32})(?![0-9a-f])", re.IGNORECASE)


def _candidates(*, headers: str, subject: str, body: str) -> list[str]:
    keys = [k.lower() for k in _MESSAGE_ID_KEY.findall(headers)]
    for text in (subject, body):
        keys += [k.lower() for k in _QUOTED_KEY.findall(text)]
    return list(dict.fromkeys(keys))


def request_for_reply(
    session: Session, *, subject: str = "", body: str = "", in_reply_to: str = "",
    references: str = "",
) -> RemovalRequest | None:
    """The request a platform's e-mail answers; a follow-up's answer goes to the request it
    follows up. None when the message names no request of ours."""
    keys = _candidates(headers=f"{in_reply_to} {references}", subject=subject, body=body)
    if not keys:
        return None
    found = {r.idempotency_key: r for r in session.scalars(
        select(RemovalRequest).where(RemovalRequest.idempotency_key.in_(keys)))}
    for key in keys:
        request = found.get(key)
        if request is not None:
            while request.follow_up_of_id is not None:
                original = session.get(RemovalRequest, request.follow_up_of_id)
                if original is None:
                    break
                request = original
            return request
    return None


# --- e-mails read from the mailbox --------------------------------------------------------------

def mailbox_cursor(session: Session, folder: str) -> MailboxCursor | None:
    return session.get(MailboxCursor, folder)


def filed_uids(session: Session, *, folder: str, uidvalidity: int, uids: list[int],
               chunk: int = 500) -> set[int]:
    """Which of ``uids`` of this folder were filed already (a Maildir has no cursor: what was
    read is remembered message by message)."""
    found: set[int] = set()
    for start in range(0, len(uids), chunk):
        found.update(session.scalars(select(MailboxMessage.uid).where(
            MailboxMessage.folder == folder, MailboxMessage.uidvalidity == uidvalidity,
            MailboxMessage.uid.in_(uids[start:start + chunk]))))
    return found


def file_mailbox_message(
    session: Session, *, folder: str, uidvalidity: int, uid: int, parsed: ParsedMessage,
    now: datetime,
) -> MailboxMessage | None:
    """Keep one e-mail read from the mailbox: threaded to its request with a proposed status,
    or in triage. None when this folder position was filed already (another worker)."""
    exists = session.scalar(select(MailboxMessage.id).where(
        MailboxMessage.folder == folder, MailboxMessage.uidvalidity == uidvalidity,
        MailboxMessage.uid == uid))
    if exists is not None:
        return None
    message = MailboxMessage(
        folder=folder, uidvalidity=uidvalidity, uid=uid, message_id=parsed.message_id or None,
        sender=parsed.sender or None, subject=parsed.subject or None, body=parsed.body,
        attachments=parsed.attachments, problem="; ".join(parsed.problems)[:300] or None,
        sent_at=parsed.sent_at, read_at=now, state="triage")
    request = request_for_reply(session, subject=parsed.subject, body=parsed.body,
                                in_reply_to=parsed.in_reply_to, references=parsed.references)
    if request is not None:
        _propose(message, request)
    session.add(message)
    return message


def _propose(message: MailboxMessage, request: RemovalRequest) -> None:
    proposal = propose_status(message.body or "", our_reference=request.idempotency_key)
    message.request = request
    message.request_id = request.id
    message.state = "proposed"
    message.proposed_status = proposal.status
    message.proposed_reason = proposal.reason
    message.platform_reference = proposal.reference


def advance_cursor(session: Session, *, folder: str, uidvalidity: int, last_uid: int,
                   now: datetime) -> None:
    cursor = session.get(MailboxCursor, folder)
    if cursor is None:
        session.add(MailboxCursor(folder=folder, uidvalidity=uidvalidity, last_uid=last_uid,
                                  updated_at=now))
        return
    if cursor.uidvalidity != uidvalidity or last_uid > cursor.last_uid:
        cursor.uidvalidity, cursor.last_uid = uidvalidity, last_uid
    cursor.updated_at = now


def pending_mailbox_replies(session: Session, request: RemovalRequest) -> list[MailboxMessage]:
    return list(session.scalars(select(MailboxMessage).where(
        MailboxMessage.request_id == request.id).order_by(MailboxMessage.id)))


def triage_messages(session: Session) -> list[MailboxMessage]:
    return list(session.scalars(select(MailboxMessage).where(
        MailboxMessage.state == "triage").order_by(MailboxMessage.read_at, MailboxMessage.id)))


def confirm_mailbox_reply(
    session: Session, message: MailboxMessage, *, status: str, now: datetime,
    reason: str | None = None, reference: str | None = None, author_id: int | None = None,
) -> RequestReply:
    """The caseworker confirms (or corrects) what the e-mail says: recorded as the request's
    reply through record_reply, like a reply entered by hand."""
    if message.state != "proposed" or message.request is None:
        raise NoticeError("this e-mail is not waiting for a confirmation")
    reply = record_reply(session, message.request, status=status, reason=reason,
                         reference=reference, source="email", author_id=author_id, now=now)
    session.flush()
    message.state = "confirmed"
    message.reply_id = reply.id
    message.decided_by_id = author_id
    message.decided_at = now
    return reply


def attach_mailbox_message(session: Session, message: MailboxMessage, request: RemovalRequest,
                           *, now: datetime, author_id: int | None = None) -> None:
    """A caseworker threads a triaged e-mail to the request it answers."""
    if message.state != "triage":
        raise NoticeError("only an e-mail in triage can be attached to a request")
    while request.follow_up_of_id is not None:
        original = session.get(RemovalRequest, request.follow_up_of_id)
        if original is None:
            break
        request = original
    _propose(message, request)
    message.decided_by_id = author_id
    message.decided_at = now


def dismiss_mailbox_message(session: Session, message: MailboxMessage, *, now: datetime,
                            author_id: int | None = None) -> None:
    """Not a platform's answer to any request: its text and attachments' names are dropped
    (it may be about anyone); the mailbox itself keeps it."""
    if message.state not in ("triage", "proposed"):
        raise NoticeError("this e-mail was dealt with already")
    message.state = "dismissed"
    message.body = None
    message.attachments = []
    message.proposed_reason = None
    message.decided_by_id = author_id
    message.decided_at = now


def find_request_by_reference(session: Session, text: str) -> RemovalRequest | None:
    """The request a caseworker names in triage: our reference, or the request's number."""
    text = text.strip()
    if text.isdigit():
        return session.get(RemovalRequest, int(text))
    return session.scalar(select(RemovalRequest).where(
        RemovalRequest.idempotency_key == text.lower()))
