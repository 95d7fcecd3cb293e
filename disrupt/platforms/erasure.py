"""The platforms feature's part of an erasure: notices not yet sent are cancelled; a notice
keeps its platform, dates and status (the statistics), not its text, the caseworker's
paragraph or what the platform answered (by API, by hand or by e-mail: the text and the
attachments' names read from the mailbox); its outbox .eml file is deleted once the erasure
is committed. Never commits."""
from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from disrupt.events import case_erased, case_erasure_committed, case_withdrawn
from disrupt.platforms.models import (
    EscalationStep,
    MailboxMessage,
    RemovalRequest,
    RequestReply,
)
from disrupt.platforms.services import CANCEL_REASONS, cancel_queued_requests

ERASED_TEXT = "erased"

PERSONAL = {
    "removal_requests": ("subject", "body", "last_error", "explanation", "reply_reason",
                         "platform_reference", "lease_owner"),
    "request_replies": ("reason", "platform_reference"),
    "mailbox_messages": ("subject", "body", "attachments", "proposed_reason",
                         "platform_reference"),
    # the prepared text quotes the URL and the platform's answers
    "escalation_steps": ("prepared_text", "their_reference", "outcome_note"),
}
NOT_PERSONAL = {
    # recipient: the platform's address; the key: random, names the outbox file.
    "removal_requests": ("legal_basis", "language", "channel", "recipient", "idempotency_key",
                         "status"),
    "request_replies": ("status", "source"),
    # sender: the platform's address; problem: our words on what was not kept.
    "mailbox_messages": ("folder", "message_id", "sender", "problem", "state",
                         "proposed_status"),
    "platforms": ("name", "channel", "contact", "jurisdiction", "default_legal_basis",
                  "removal_rules", "notes"),
    "platform_domains": ("domain",),
    # recipient and form: a company or public body; reference: random
    "escalation_steps": ("rung", "status", "recipient", "form_url", "language", "reference"),
}


def on_case_withdrawn(case: Any, *, session: Session, now: datetime, **_: object) -> None:
    cancel_queued_requests(session, case.id, CANCEL_REASONS["withdrawn"])


def on_case_erased(case: Any, *, session: Session, now: datetime, **_: object) -> None:
    cancel_queued_requests(session, case.id, CANCEL_REASONS["erased"])
    request_ids = select(RemovalRequest.id).where(RemovalRequest.case_id == case.id)
    session.execute(update(RemovalRequest).where(RemovalRequest.case_id == case.id).values(
        subject=ERASED_TEXT, body=ERASED_TEXT, last_error=None, explanation=None,
        reply_reason=None, platform_reference=None, lease_owner=None, lease_expires_at=None))
    session.execute(update(RequestReply).where(RequestReply.request_id.in_(request_ids))
                    .values(reason=None, platform_reference=None))
    session.execute(update(MailboxMessage).where(MailboxMessage.request_id.in_(request_ids))
                    .values(subject=ERASED_TEXT, body=None, attachments=[],
                            proposed_reason=None, platform_reference=None))
    session.execute(update(EscalationStep).where(EscalationStep.case_id == case.id).values(
        prepared_text=None, their_reference=None, outcome_note=None))


def on_erasure_committed(case_id: int, *, session: Session, config: Any,
                         **_: object) -> None:
    """The outbox keeps a copy of every notice sent (URLs, hashes, the victim's words)."""
    if config.get("MAIL_TRANSPORT") != "outbox" or not config.get("OUTBOX_DIR"):
        return
    folder = Path(config["OUTBOX_DIR"])
    keys = session.scalars(select(RemovalRequest.idempotency_key)
                           .where(RemovalRequest.case_id == case_id))
    for key in keys:
        with contextlib.suppress(FileNotFoundError):
            (folder / f"{key}.eml").unlink()


def connect() -> None:
    case_withdrawn.connect(on_case_withdrawn)
    case_erased.connect(on_case_erased)
    case_erasure_committed.connect(on_erasure_committed)
