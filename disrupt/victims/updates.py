"""Update e-mails to victims who left an address: "your case has news", nothing more.

The e-mail names no case, URL, platform or message: a mailbox can be read by someone else.
It is sent when Case.news_at moves (a URL removed or back online, a caseworker's message,
the case closed), at most once per case in VICTIM_UPDATE_MIN_HOURS, through the outbox rules
of the notices: claimed with a lease, sent outside any transaction, retried with backoff
until it leaves, and keyed by the news it announces so a repeat after a crash carries the
same Message-ID. Takes a session and `now`; never commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import lru_cache

from babel.support import Translations
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from disrupt.accounts.services import record_audit
from disrupt.cases.models import STOPPED_STATUSES, Case
from disrupt.paths import translations_dir
from disrupt.platforms.channels import organisation_email
from disrupt.security import DataCipher
from disrupt.victims.models import ContactConfirmation, VictimUpdate

# A failed send waits SEND_RETRY_SECONDS, doubling, up to this; it is never given up.
MAX_RETRY_DELAY = timedelta(hours=6)


def N_(text: str) -> str:  # noqa: N802 - marks a string for extraction; translated when sent
    return text


SUBJECT = N_("News about your request")
BODY = N_("Hello,\n\nThere is news about the request you made to {organisation}. To keep "
          "your case private, this e-mail says nothing more.\n\nTo see it, open the site "
          "and enter your case reference and secret.")
LINK = N_("The site: {url}")
FOOTER = N_("You receive this e-mail because you left this address when you opened the "
            "request. To stop these e-mails, choose \"Stop e-mail updates\" on your case page.")


@dataclass(frozen=True)
class ClaimedUpdate:
    case_id: int
    news_at: datetime
    key: str


def _due(now: datetime, min_gap: timedelta, worker: str):
    u = VictimUpdate
    return and_(
        Case.news_at.is_not(None), Case.contact_encrypted.is_not(None),
        Case.status.not_in(STOPPED_STATUSES), _confirmed_address(),
        or_(u.case_id.is_(None), and_(
            or_(u.announced_news_at.is_(None), u.announced_news_at < Case.news_at),
            or_(u.sent_at.is_(None), u.sent_at <= now - min_gap),
            or_(u.next_attempt_at.is_(None), u.next_attempt_at <= now),
            or_(u.lease_expires_at.is_(None), u.lease_expires_at < now,
                u.lease_owner == worker))),
    )


def _confirmed_address():
    """Never to an address its owner has not confirmed (disrupt/victims/confirmation.py)."""
    return select(ContactConfirmation.case_id).where(
        ContactConfirmation.case_id == Case.id,
        ContactConfirmation.confirmed_at.is_not(None)).exists()


def claim_updates(session: Session, *, worker: str, now: datetime, lease: timedelta,
                  min_gap: timedelta, limit: int = 50) -> list[ClaimedUpdate]:
    """Lease the cases whose news has not been announced yet and may be now."""
    query = (select(Case.id, Case.news_at)
             .outerjoin(VictimUpdate, VictimUpdate.case_id == Case.id)
             .where(_due(now, min_gap, worker)).order_by(Case.news_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Case, skip_locked=True)
    claimed = []
    for case_id, news_at in session.execute(query).all():
        row = session.get(VictimUpdate, case_id)
        if row is None:
            row = VictimUpdate(case_id=case_id)
            session.add(row)
        if row.sending_news_at is None:  # kept until it is known to have left: same key
            row.sending_news_at = news_at
        row.lease_owner, row.lease_expires_at = worker, now + lease
        claimed.append(ClaimedUpdate(case_id, row.sending_news_at,
                                     f"case-update-{case_id}-{row.sending_news_at:%Y%m%d%H%M%S%f}"))
    session.flush()
    return claimed


def update_email(case: Case, claim: ClaimedUpdate, cipher: DataCipher, config: dict
                 ) -> EmailMessage | None:
    """The e-mail in the victim's language; None when there is no longer anyone to tell."""
    contact = cipher.decrypt(case.contact_encrypted) if case.contact_encrypted else None
    if not contact or case.status in STOPPED_STATUSES:
        return None
    translate = translations_for(case.language).gettext
    parts = [translate(BODY).format(organisation=config["ORGANISATION_NAME"])]
    if config.get("PUBLIC_URL"):
        parts.append(translate(LINK).format(url=config["PUBLIC_URL"]))
    parts.append(translate(FOOTER))
    msg = organisation_email(config, to=contact, subject=translate(SUBJECT),
                             body="\n\n".join(parts) + "\n", key=claim.key)
    msg["Content-Language"] = case.language
    return msg


@lru_cache(maxsize=8)
def translations_for(language: str) -> Translations:
    """The portal's catalogue of `language`, read from disk once per process."""
    return Translations.load(str(translations_dir()), [language])


def _held(session: Session, claim: ClaimedUpdate, worker: str) -> VictimUpdate | None:
    row = session.get(VictimUpdate, claim.case_id)
    if row is None or row.lease_owner != worker or row.sending_news_at != claim.news_at:
        return None
    return row


def record_update_sent(session: Session, claim: ClaimedUpdate, *, worker: str,
                       now: datetime) -> bool:
    row = _held(session, claim, worker)
    if row is None:
        return False
    row.announced_news_at, row.sent_at = claim.news_at, now
    row.sending_news_at = row.lease_owner = row.lease_expires_at = None
    row.attempts, row.next_attempt_at, row.last_error = 0, None, None
    record_audit(session, action="victim.update_sent", now=now, actor_kind="system",
                 record=session.get(Case, claim.case_id))
    return True


def retry_later(row: VictimUpdate | ContactConfirmation, *, now: datetime, error: str,
                retry_after: timedelta) -> None:
    """A failed send of an e-mail to the victim: the lease ends, and the next attempt waits
    twice as long as the last one did, at most MAX_RETRY_DELAY; never given up."""
    row.attempts += 1
    row.last_error = error[:500]
    row.next_attempt_at = now + min(retry_after * 2 ** (row.attempts - 1), MAX_RETRY_DELAY)
    row.lease_owner = row.lease_expires_at = None


def record_update_failed(session: Session, claim: ClaimedUpdate, *, worker: str, now: datetime,
                         error: str, retry_after: timedelta) -> bool:
    row = _held(session, claim, worker)
    if row is None:
        return False
    retry_later(row, now=now, error=error, retry_after=retry_after)
    return True


def release_update(session: Session, claim: ClaimedUpdate, *, worker: str) -> None:
    """Nobody to tell any more (erased, withdrawn, address removed): drop the claim."""
    row = _held(session, claim, worker)
    if row is not None:
        row.sending_news_at = row.lease_owner = row.lease_expires_at = None


def forget_updates(session: Session, case_id: int) -> None:
    """Erasure: not even the dates of the e-mails stay."""
    session.execute(delete(VictimUpdate).where(VictimUpdate.case_id == case_id))
