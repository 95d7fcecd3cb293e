from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from disrupt.db import Base

CASE_STATUSES = ("new", "in_progress", "closed", "withdrawn", "erased")
# The victim stopped the case: no more checks, notices, sharing or e-mails.
STOPPED_STATUSES = ("withdrawn", "erased")
AGE_GROUPS = ("adult", "minor", "unknown")
# The victim's answer to "Are the images intimate?" ("no" is refused by the portal).
INTIMATE_ANSWERS = ("yes", "unsure")
INTIMATE_UNSURE = "unsure"
PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_MINOR = 0, 1, 2

# DESIGN.md §6
URL_STATES = (
    "pending",
    "online",
    "removal_suspected",
    "removed",
    "indeterminate",
    "restricted",
    "invalid",
)


def _queue_order() -> tuple[Any, ...]:
    """The queue's order (console.queue): minors first, then the earliest deadline a
    platform is still running on, then the oldest; the indexes below hold it."""
    return (text("priority DESC"), text("(waiting_deadline IS NULL)"), "waiting_deadline",
            "created_at", "id")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue's pages, and its capped counts read from the index alone (console.queue).
        Index("ix_cases_queue_open", *_queue_order(), "status", "assignee_id", "overdue_from",
              sqlite_where=text("status IN ('new', 'in_progress')"),
              postgresql_where=text("status IN ('new', 'in_progress')")),
        Index("ix_cases_queue_any", *_queue_order(), "status", "assignee_id", "overdue_from",
              sqlite_where=text("status != 'erased'"), postgresql_where=text("status != 'erased'")),
        Index("ix_cases_overdue_from", "overdue_from", "status", "priority", "assignee_id",
              "created_at", sqlite_where=text("overdue_from IS NOT NULL"),
              postgresql_where=text("overdue_from IS NOT NULL")),
        Index("ix_cases_age", "created_at", "status", "priority", "assignee_id", "overdue_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    #: Set by cases.status only, with priority, assignee_id and age_group (the tallies).
    status: Mapped[str] = mapped_column(String(20), default="new")
    age_group: Mapped[str] = mapped_column(String(10), default="adult")
    #: The victim's answer to "Are the images intimate?" (INTIMATE_ANSWERS).
    intimate: Mapped[str | None] = mapped_column(String(10))
    reporter: Mapped[str] = mapped_column(String(10), default="self")  # self / supporter
    language: Mapped[str] = mapped_column(String(5), default="en")
    consent_notices: Mapped[bool] = mapped_column(default=False)
    consent_hash_sharing: Mapped[bool] = mapped_column(default=False)
    contact_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    priority: Mapped[int] = mapped_column(default=PRIORITY_NORMAL)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)  # the statistics' funnel
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    # When something last happened that the victim should hear of (a URL removed or back
    # online, a message from a caseworker, the case closed): the victim-update e-mails.
    news_at: Mapped[datetime | None] = mapped_column(index=True)
    #: The earliest deadline a platform is still running on (a removal request sent or
    #: acknowledged), for the queue's order; and the earliest of those requests that still
    #: have an address not removed: the case is overdue once it is past (unless stopped).
    #: Both kept on the platforms feature's `waiting_deadline_changed` event
    #: (cases.tallies), never set by hand.
    waiting_deadline: Mapped[datetime | None]
    overdue_from: Mapped[datetime | None]

    urls: Mapped[list[ReportedURL]] = relationship(
        back_populates="case", order_by="ReportedURL.id", cascade="all, delete-orphan"
    )
    hashes: Mapped[list[MediaHash]] = relationship(
        back_populates="case", order_by="MediaHash.id", cascade="all, delete-orphan"
    )

    @property
    def is_minor(self) -> bool:
        return self.age_group == "minor"

    @property
    def intimate_answer(self) -> str | None:
        """The victim's answer to "Are the images intimate?" (INTIMATE_ANSWERS); None for a
        case opened by staff or before the answer was kept."""
        return self.intimate if self.intimate in INTIMATE_ANSWERS else None


class MediaHash(Base):
    """Hashes computed on the victim's device. Never a file name, never pixels."""

    __tablename__ = "media_hashes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="image")
    pdq: Mapped[str | None] = mapped_column(String(64), index=True)
    pdq_quality: Mapped[int | None]
    phash: Mapped[str | None] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    md5: Mapped[str | None] = mapped_column(String(32))
    pipeline: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active/withdrawn/deleted
    label: Mapped[str | None] = mapped_column(String(80))
    # Minors' hashes and weak hashes leave only on a caseworker's decision.
    sharing_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sharing_approved_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="hashes")


class ReportedURL(Base):
    __tablename__ = "reported_urls"
    __table_args__ = (
        UniqueConstraint("case_id", "url"),
        Index("ix_reported_urls_due", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255), index=True)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id"), index=True)
    reported_by: Mapped[str] = mapped_column(String(20), default="victim")
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    state_reason: Mapped[str | None] = mapped_column(String(200))
    reappeared: Mapped[bool] = mapped_column(default=False)
    check_count: Mapped[int] = mapped_column(default=0)
    indeterminate_streak: Mapped[int] = mapped_column(default=0)
    first_seen_online_at: Mapped[datetime | None]
    last_seen_online_at: Mapped[datetime | None]
    removal_suspected_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    reappeared_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    #: First check that saw the case's picture on the page (rule media_match) or a
    #: caseworker's confirmation: until then "online" means "picture not confirmed".
    picture_confirmed_at: Mapped[datetime | None]
    #: Start of an unbroken run of network failures (CHECK_INVALID_AFTER_DAYS).
    network_failing_since: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="urls")
    platform: Mapped[Platform | None] = relationship()  # noqa: F821


class Note(Base):
    """Internal caseworker note; never shown to the victim."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class Message(Base):
    """A message between the victim and the caseworkers, shown on the victim's status page."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(12))  # to_victim / from_victim
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class Referral(Base):
    """A case forwarded to PHAROS, a partner hotline or the police."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(40))
    their_reference: Mapped[str | None] = mapped_column(String(120))
    sent_at: Mapped[datetime]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    #: Closed by a caseworker (the authorities answered or dropped it): a legal hold placed
    #: for it ends (disrupt.evidence listens to `referral_closed`).
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(Text)


class CaseTally(Base):
    """How many cases have each status, priority and assignee (0: nobody): the queue's
    counts without counting the backlog. Moved by cases.status whenever a case is added or
    changes status, priority or assignee."""

    __tablename__ = "case_tallies"

    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    priority: Mapped[int] = mapped_column(primary_key=True)
    assignee_key: Mapped[int] = mapped_column(primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)
