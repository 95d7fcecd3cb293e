from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.db import Base

CAPTURE_STATUSES = ("pending", "fetching", "stored")
CAPTURE_TRIGGERS = ("verification", "checker", "manual")


class Capture(Base):
    """One WARC capture of a reported URL, stored encrypted in the instance's evidence folder
    (``file_name``). Queued ``pending`` (no network inside a transaction), fetched by the
    worker. ``sha256`` is the digest of the plain WARC, entered in the custody log."""

    __tablename__ = "evidence_captures"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reported_url_id: Mapped[int | None] = mapped_column(
        ForeignKey("reported_urls.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    queued_at: Mapped[datetime]
    #: A worker fetching it holds it until then; past it, another worker takes it again.
    lease_expires_at: Mapped[datetime | None]
    captured_at: Mapped[datetime | None] = mapped_column(index=True)
    #: CAPTURE_TRIGGERS: a caseworker verified the URL / the checker first saw the picture
    trigger: Mapped[str] = mapped_column(String(20))
    captured_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    url: Mapped[str] = mapped_column(String(2048))
    final_url: Mapped[str | None] = mapped_column(String(2048))
    http_status: Mapped[int | None]
    #: The verdict of the check that triggered the capture (or of the last check).
    verdict: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    file_name: Mapped[str | None] = mapped_column(String(120))
    #: Digests of the page's pictures the check compared (never their bytes by default).
    pictures: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The pictures' bytes are in the WARC (adult case, the victim agreed).
    picture_bytes_kept: Mapped[bool] = mapped_column(default=False)


class CustodyEntry(Base):
    """Append-only, hash-chained: each entry commits to the one before it, so an altered,
    removed or inserted entry breaks every hash after it (`disrupt evidence verify`)."""

    __tablename__ = "custody_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    #: captured / exported / deleted / hold_placed / hold_lifted
    action: Mapped[str] = mapped_column(String(20))
    capture_id: Mapped[int | None]
    capture_sha256: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    previous_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class PictureConsent(Base):
    """The victim agreed on the portal that the pictures themselves are kept, encrypted, for
    the police. Never acted on for a minor's case or a case whose age is unknown."""

    __tablename__ = "evidence_picture_consents"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         primary_key=True)
    keep_pictures: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime]


class EvidenceHold(Base):
    """A caseworker's legal hold: the case's captures survive the victim's erasure while a
    referral to the authorities is open. Ends when lifted or with the referral."""

    __tablename__ = "evidence_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"),
                                             index=True)
    placed_at: Mapped[datetime]
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
