"""The address a victim leaves is confirmed by a link before any update e-mail goes to it:
anyone can type anyone's address into the form, and DISRUPT must not become a way to mail
"there is news about your request" to a stranger.

One e-mail per address: the worker finds an address without a confirmation, makes a token
(in the link only; the table keeps its SHA-256, and an encrypted copy until the e-mail has
left), and sends it through the outbox rules (lease, retry with backoff, a stable
Message-ID). The link works once, until VICTIM_CONTACT_CONFIRM_HOURS. Takes a session and
`now`; never commits.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from disrupt.accounts.services import record_audit
from disrupt.cases.models import Case
from disrupt.cases.rules import case_workable, work_refusal
from disrupt.platforms.channels import organisation_email
from disrupt.security import DataCipher
from disrupt.victims.models import ContactConfirmation
from disrupt.victims.updates import N_, retry_later, translations_for

CONFIRM_PATH = "/case/contact/confirm/"
#: The outbox file of a confirmation e-mail (the key of its Message-ID).
KEY_FORMAT = "contact-confirm-{case_id}-{stamp}"

SUBJECT = N_("Please confirm your e-mail address")
BODY = N_("Hello,\n\nSomeone, probably you, left this address when making a request to "
          "{organisation}. Before we write to it, please confirm that it is yours by "
          "opening this link:\n\n{link}\n\nThe link works once, for {hours} hours. If you "
          "did not make a request, ignore this e-mail: we will not write to you again.")


@dataclass(frozen=True)
class ClaimedConfirmation:
    case_id: int
    key: str


def token_digest(token: str) -> str:
    """The token has 256 random bits: a plain SHA-256 is enough to store it."""
    return hashlib.sha256(token.encode()).hexdigest()


def _unconfirmed_addresses(session: Session, limit: int) -> list[int]:
    return list(session.scalars(
        select(Case.id).outerjoin(ContactConfirmation, ContactConfirmation.case_id == Case.id)
        .where(ContactConfirmation.case_id.is_(None), Case.contact_encrypted.is_not(None),
               case_workable())
        .order_by(Case.id).limit(limit)))


def claim_confirmations(session: Session, *, worker: str, now: datetime, lease: timedelta,
                        valid_for: timedelta, cipher: DataCipher,
                        limit: int = 50) -> list[ClaimedConfirmation]:
    """Make the confirmation of every address that has none, and lease those due to leave."""
    for case_id in _unconfirmed_addresses(session, limit):
        token = secrets.token_urlsafe(32)
        session.add(ContactConfirmation(
            case_id=case_id, token_sha256=token_digest(token),
            token_encrypted=cipher.encrypt(token), created_at=now, expires_at=now + valid_for,
            attempts=0))
    session.flush()
    row = ContactConfirmation
    query = (select(row).join(Case, Case.id == row.case_id).where(
        row.sent_at.is_(None), row.confirmed_at.is_(None), row.token_encrypted.is_not(None),
        row.expires_at > now, Case.contact_encrypted.is_not(None),
        case_workable(),
        or_(row.next_attempt_at.is_(None), row.next_attempt_at <= now),
        or_(row.lease_expires_at.is_(None), row.lease_expires_at < now,
            row.lease_owner == worker),
    ).order_by(row.case_id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=row, skip_locked=True)
    claims = []
    for confirmation in session.scalars(query).all():
        confirmation.lease_owner, confirmation.lease_expires_at = worker, now + lease
        claims.append(ClaimedConfirmation(confirmation.case_id, KEY_FORMAT.format(
            case_id=confirmation.case_id, stamp=f"{confirmation.created_at:%Y%m%d%H%M%S%f}")))
    session.flush()
    return claims


def confirmation_email(session: Session, claim: ClaimedConfirmation, cipher: DataCipher,
                       config: Any) -> EmailMessage | None:
    """The e-mail in the victim's language; None when there is no longer anyone to ask."""
    case = session.get(Case, claim.case_id)
    confirmation = session.get(ContactConfirmation, claim.case_id)
    if (case is None or confirmation is None or case.contact_encrypted is None
            or confirmation.token_encrypted is None or work_refusal(case) is not None):
        return None
    token = cipher.decrypt(confirmation.token_encrypted)
    link = f"{(config.get('PUBLIC_URL') or '').rstrip('/')}{CONFIRM_PATH}{token}"
    translate = translations_for(case.language).gettext
    body = translate(BODY).format(organisation=config["ORGANISATION_NAME"], link=link,
                                  hours=int(config["VICTIM_CONTACT_CONFIRM_HOURS"]))
    msg = organisation_email(config, to=cipher.decrypt(case.contact_encrypted),
                             subject=translate(SUBJECT), body=body + "\n", key=claim.key)
    msg["Content-Language"] = case.language
    return msg


def _held(session: Session, claim: ClaimedConfirmation, worker: str
          ) -> ContactConfirmation | None:
    row = session.get(ContactConfirmation, claim.case_id)
    return row if row is not None and row.lease_owner == worker else None


def record_confirmation_sent(session: Session, claim: ClaimedConfirmation, *, worker: str,
                             now: datetime) -> bool:
    row = _held(session, claim, worker)
    if row is None:
        return False
    row.sent_at, row.token_encrypted = now, None  # the token now lives in her mailbox only
    row.lease_owner = row.lease_expires_at = row.last_error = None
    record_audit(session, action="victim.contact_confirmation_sent", now=now,
                 actor_kind="system", record=session.get(Case, claim.case_id))
    return True


def record_confirmation_failed(session: Session, claim: ClaimedConfirmation, *, worker: str,
                               now: datetime, error: str, retry_after: timedelta) -> bool:
    row = _held(session, claim, worker)
    if row is None:
        return False
    retry_later(row, now=now, error=error, retry_after=retry_after)
    return True


def release_confirmation(session: Session, claim: ClaimedConfirmation, *, worker: str) -> None:
    row = _held(session, claim, worker)
    if row is not None:
        row.lease_owner = row.lease_expires_at = None


def confirm_contact(session: Session, token: str, now: datetime) -> Case | None:
    """The case whose address this link confirms now; None for an unknown, used or expired
    link (all alike)."""
    if not token or len(token) > 100:
        return None
    row = session.scalar(select(ContactConfirmation).where(
        ContactConfirmation.token_sha256 == token_digest(token)))
    case = session.get(Case, row.case_id) if row is not None else None
    if (row is None or case is None or row.expires_at <= now or row.confirmed_at is not None
            or case.contact_encrypted is None or work_refusal(case) is not None):
        return None
    row.confirmed_at, row.token_sha256, row.token_encrypted = now, None, None
    record_audit(session, action="victim.contact_confirmed", now=now, actor_kind="victim",
                 record=case)
    return case


def contact_state(session: Session, case: Case, now: datetime) -> str:
    """none / waiting (for her to open the link) / expired / confirmed."""
    if case.contact_encrypted is None:
        return "none"
    row = session.get(ContactConfirmation, case.id)
    if row is not None and row.confirmed_at is not None:
        return "confirmed"
    if row is not None and row.expires_at <= now:
        return "expired"
    return "waiting"


def forget_confirmation(session: Session, case_id: int) -> None:
    """The address is gone (removed by her, or erased): so is its confirmation."""
    session.execute(delete(ContactConfirmation).where(ContactConfirmation.case_id == case_id))
