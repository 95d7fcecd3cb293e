"""The cases feature's part of an erasure: the case's credentials and contact, its messages
and notes, the text of its referrals, its addresses (kept as `erased:<id>` under the
platform's domain for the statistics) and its hashes (kept as `deleted` tombstones for
the exchange's retention period). Never commits."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, MediaHash, Message, Note, Referral, ReportedURL
from disrupt.events import case_erased, case_withdrawn

ERASED_TEXT = "erased"

#: Columns that can hold personal data, emptied (or deleted with their row) on erasure.
PERSONAL = {
    "cases": ("reference", "secret_hash", "contact_encrypted"),
    "messages": ("body_encrypted",),
    "notes": ("body_encrypted",),
    "referrals": ("their_reference", "summary", "outcome"),
    "reported_urls": ("url", "host", "state_reason", "lease_owner"),
    "media_hashes": ("label",),
}
#: Text columns that hold codes, never anything about the victim. The hash values stay as
#: tombstones: partner platforms must be told to delete them (see the README).
NOT_PERSONAL = {
    "cases": ("status", "age_group", "reporter", "intimate", "language", "outcome"),
    "messages": ("direction",),
    "referrals": ("recipient",),
    "reported_urls": ("reported_by", "state"),
    "media_hashes": ("kind", "pdq", "phash", "sha256", "md5", "pipeline", "status"),
}


def erased_reference(case_id: int) -> str:
    return f"erased:{case_id}"


def on_case_erased(case: Case, *, session: Session, now: datetime,
                   urls: dict[int, str], **_: object) -> None:
    session.execute(delete(Message).where(Message.case_id == case.id))
    session.execute(delete(Note).where(Note.case_id == case.id))
    session.execute(update(Referral).where(Referral.case_id == case.id)
                    .values(summary=None, their_reference=None, outcome=None))
    session.execute(update(MediaHash).where(MediaHash.case_id == case.id).values(
        status="deleted", label=None, status_changed_at=now))
    for url in session.scalars(select(ReportedURL).where(ReportedURL.case_id == case.id)):
        url.url = f"erased:{url.id}"
        url.host = _platform_domain(url)
        url.state_reason = None
        url.next_check_at = url.lease_owner = url.lease_expires_at = None
    case.reference = erased_reference(case.id)
    case.contact_encrypted = None
    case.secret_hash = None
    session.flush()
    session.expire(case, ["urls", "hashes"])


def on_case_withdrawn(case: Case, *, session: Session, now: datetime, **_: object) -> None:
    """The hashes leave the exchange at once."""
    session.execute(update(MediaHash).where(MediaHash.case_id == case.id,
                                            MediaHash.status == "active")
                    .values(status="withdrawn", status_changed_at=now))


def _platform_domain(url: ReportedURL) -> str:
    """The statistics count per platform; the host is kept only as the platform's domain."""
    platform = url.platform
    if platform is None or not platform.domains:
        return ERASED_TEXT
    return platform.domains[0].domain


def connect() -> None:
    case_erased.connect(on_case_erased)
    case_withdrawn.connect(on_case_withdrawn)
