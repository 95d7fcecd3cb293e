"""Worker jobs: send queued notices from the outbox, raise overdue requests, read the
platforms' e-mail replies. Own their transactions."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from disrupt.accounts.services import record_audit
from disrupt.cases.models import Case
from disrupt.cases.rules import work_refusal
from disrupt.dates import format_moment
from disrupt.db import Database
from disrupt.platforms.channels import DeliveryError, deliver, send_internal_email
from disrupt.platforms.deadlines import raise_overdue
from disrupt.platforms.mailbox import (
    FetchedMessage,
    MailboxError,
    MailboxSettings,
    fetch_new,
    list_maildir,
    maildir_folder,
    parse_message,
    read_maildir,
)
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.replies import (
    advance_cursor,
    file_mailbox_message,
    filed_uids,
    mailbox_cursor,
)
from disrupt.platforms.services import (
    PlatformReply,
    claim_queued_requests,
    record_delivery,
    record_failed_delivery,
)

log = logging.getLogger(__name__)

CRASH_EXIT_STATUS = 70


def send_queued_notices(
    db: Database, config: Any, *, worker: str, now: Callable[[], datetime]
) -> int:
    """Send every due queued notice once; failures back off and stay queued.

    A crash after a delivery and before its commit leaves the request queued under this
    worker's lease: it is sent again later with the same idempotency key (Message-ID,
    Idempotency-Key header), which the receiver uses to drop the repeat.
    """
    lease = timedelta(seconds=config["LEASE_SECONDS"])
    with db.session(claim=True) as session:
        ids = claim_queued_requests(session, worker=worker, now=now(), lease=lease)
        session.commit()
    sent = 0
    for request_id in ids:
        with db.session() as session:
            request = session.get(RemovalRequest, request_id)
            if request is None or request.lease_owner != worker or request.status != "queued":
                continue
            case = session.get(Case, request.case_id)
            if case is None or work_refusal(case) is not None:
                continue  # stopped since the claim: the next claim cancels it
            _ = request.urls, request.platform  # loaded before the session closes
        error: DeliveryError | None = None
        reply: PlatformReply | None = None
        try:
            reply = deliver(request, config)  # outside any transaction: SQLite stays writable
        except DeliveryError as exc:
            log.warning("notice %s not delivered: %s", request_id, exc)
            error = exc
        if error is None and config.get("TEST_CRASH_AFTER_DELIVERY"):
            os._exit(CRASH_EXIT_STATUS)  # the test hook: die between the send and the commit
        with db.session(claim=True) as session:
            request = session.get(RemovalRequest, request_id)
            if error is None:
                sent += record_delivery(session, request, worker=worker, now=now(),
                                        scale=float(config["TIME_SCALE"]), reply=reply)
            else:
                record_failed_delivery(
                    session, request, worker=worker, error=str(error), now=now(),
                    retry_after=timedelta(seconds=config["SEND_RETRY_SECONDS"]),
                    max_attempts=config["SEND_MAX_ATTEMPTS"], permanent=error.permanent,
                )
            session.commit()
    return sent


def raise_overdue_requests(db: Database, config: Any, *, now: Callable[[], datetime]) -> int:
    """Escalate requests whose deadline passed: once each, in the audit log, on the console's
    "Needs attention" list, and by e-mail to ESCALATION_EMAIL when it is set."""
    at = now()
    zone = ZoneInfo(config["ORGANISATION_TIMEZONE"])
    with db.session(claim=True) as session:
        raised = raise_overdue(session, now=at)
        lines = []
        for request in raised:
            record_audit(session, action="removal_request_overdue", now=at, actor_kind="system",
                         record=request, case_id=request.case_id,
                         platform=request.platform.name,
                         deadline_at=request.deadline_at.isoformat())
            deadline = format_moment(request.deadline_at, zone=zone, language="en", form="short")
            lines.append(f"- request {request.id} to {request.platform.name} (case "
                         f"{request.case_id}), deadline {deadline}")
        session.commit()
    recipient = config.get("ESCALATION_EMAIL")
    if raised and recipient:
        body = ("These removal requests passed their deadline without a decision from the "
                "platform. Open the console's \"Needs attention\" page to send a follow-up.\n\n"
                + "\n".join(lines) + "\n")
        key = f"overdue-{at:%Y%m%d%H%M%S%f}-{raised[0].id}"
        try:
            send_internal_email(config, to=recipient, key=key,
                                subject=f"DISRUPT: {len(raised)} removal request(s) overdue",
                                body=body)
        except DeliveryError as exc:  # the console list is the record; the mail is a nudge
            log.warning("escalation e-mail not sent: %s", exc)
    return len(raised)


def read_platform_replies(db: Database, config: Any, *, now: Callable[[], datetime]) -> int:
    """Read the new e-mails of the organisation's mailbox (the Maildir MAILBOX_MAILDIR when
    it is set, else IMAP_FOLDER over IMAP) and file each one: threaded to its request with a
    proposed status, or in triage. Returns how many were filed. The mailbox itself is never
    changed."""
    if config.get("MAILBOX_MAILDIR"):
        return read_maildir_replies(db, config, now=now)
    return read_imap_replies(db, config, now=now)


def read_imap_replies(db: Database, config: Any, *, now: Callable[[], datetime]) -> int:
    """The folder's UIDVALIDITY and last UID read are kept, so nothing is read twice."""
    settings = MailboxSettings.from_config(config)
    with db.session() as session:
        cursor = mailbox_cursor(session, settings.folder)
        seen_validity = cursor.uidvalidity if cursor else None
        after_uid = cursor.last_uid if cursor else 0
    try:  # outside any transaction: a slow mailbox never holds the database
        batch = fetch_new(settings, uidvalidity=seen_validity, after_uid=after_uid)
    except MailboxError as exc:
        log.warning("mailbox not read: %s", exc)
        return 0
    if not batch.messages and batch.uidvalidity == seen_validity:
        return 0
    last = max((m.uid for m in batch.messages),
               default=after_uid if batch.uidvalidity == seen_validity else 0)
    return _file_messages(db, settings.folder, batch.uidvalidity, batch.messages, now=now,
                          cursor_uid=last)


def read_maildir_replies(db: Database, config: Any, *, now: Callable[[], datetime]) -> int:
    """A Maildir has no UIDs: each message is remembered by its key (its file name without
    the flags), filed under uidvalidity 0, so a restart reads nothing twice."""
    path = str(config["MAILBOX_MAILDIR"])
    folder = maildir_folder(path)
    try:
        listing = list_maildir(path)
    except MailboxError as exc:
        log.warning("mailbox not read: %s", exc)
        return 0
    with db.session() as session:
        known = filed_uids(session, folder=folder, uidvalidity=0, uids=[u for u, _ in listing])
    fresh = [(uid, key) for uid, key in listing if uid not in known]
    if not fresh:
        return 0
    try:
        messages = read_maildir(path, fresh)
    except MailboxError as exc:
        log.warning("mailbox not read: %s", exc)
        return 0
    return _file_messages(db, folder, 0, messages, now=now, cursor_uid=None)


def _file_messages(db: Database, folder: str, uidvalidity: int,
                   messages: list[FetchedMessage], *, now: Callable[[], datetime],
                   cursor_uid: int | None) -> int:
    """Parse (outside any transaction) and file ``messages``; with ``cursor_uid``, move the
    folder's IMAP cursor in the same transaction."""
    parsed = [(m.uid, parse_message(m.raw, headers_only=m.headers_only, size=m.size))
              for m in messages]
    filed = 0
    at = now()
    with db.session(claim=True) as session:
        for uid, message in parsed:
            filed += file_mailbox_message(session, folder=folder, uidvalidity=uidvalidity,
                                          uid=uid, parsed=message, now=at) is not None
        if cursor_uid is not None:
            advance_cursor(session, folder=folder, uidvalidity=uidvalidity,
                           last_uid=cursor_uid, now=at)
        session.commit()
    return filed
