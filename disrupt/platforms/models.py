from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from disrupt.db import Base

CHANNELS = ("email", "api", "webform", "none")
LEGAL_BASES = ("dsa_art16", "take_it_down", "lcen_art6")
REQUEST_STATUSES = ("draft", "queued", "sent", "acknowledged", "actioned", "rejected", "failed")
REPLY_STATUSES = ("acknowledged", "actioned", "rejected")
# A request still waiting for the platform to act: its deadline can pass.
AWAITING_ACTION = ("sent", "acknowledged")


class Platform(Base):
    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(10), default="email")
    contact: Mapped[str | None] = mapped_column(String(500))  # e-mail address or API endpoint
    jurisdiction: Mapped[str | None] = mapped_column(String(10))
    deadline_hours: Mapped[int] = mapped_column(default=48)
    trusted_flagger: Mapped[bool] = mapped_column(default=False)
    default_legal_basis: Mapped[str] = mapped_column(String(20), default="dsa_art16")
    # Lists of strings under the keys of platforms.services.RULE_KEYS, read by the URL
    # checker (disrupt/monitoring/rules.py).
    removal_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Politeness of URL checks on this platform's hosts; None = the settings' defaults
    # (HOST_CONCURRENCY, HOST_SPACING_SECONDS).
    check_concurrency: Mapped[int | None]
    check_spacing_seconds: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(Text)

    domains: Mapped[list[PlatformDomain]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="PlatformDomain.domain"
    )


class PlatformDomain(Base):
    """A domain and its subdomains belong to one platform."""

    __tablename__ = "platform_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))

    platform: Mapped[Platform] = relationship(back_populates="domains")


removal_request_urls = Table(
    "removal_request_urls",
    Base.metadata,
    Column("request_id", ForeignKey("removal_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("url_id", ForeignKey("reported_urls.id", ondelete="CASCADE"), primary_key=True),
)


class RemovalRequest(Base):
    """A notice to one platform covering one or more URLs of a case; sent through the outbox."""

    __tablename__ = "removal_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    legal_basis: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5))
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(15), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    explanation: Mapped[str | None] = mapped_column(Text)  # the caseworker's added paragraph
    replied_at: Mapped[datetime | None]
    reply_reason: Mapped[str | None] = mapped_column(Text)
    platform_reference: Mapped[str | None] = mapped_column(String(120))
    escalated_at: Mapped[datetime | None]
    follow_up_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("removal_requests.id", ondelete="SET NULL"), index=True
    )

    platform: Mapped[Platform] = relationship()
    urls: Mapped[list[ReportedURL]] = relationship(  # noqa: F821
        secondary=removal_request_urls, order_by="ReportedURL.id"
    )
    replies: Mapped[list[RequestReply]] = relationship(
        back_populates="request", order_by="RequestReply.id", cascade="all, delete-orphan"
    )


class RequestReply(Base):
    """What a platform answered to a request: from its API response or entered by a
    caseworker. The request's status follows the latest reply."""

    __tablename__ = "request_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("removal_requests.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(15))
    reason: Mapped[str | None] = mapped_column(Text)
    platform_reference: Mapped[str | None] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(12))  # api / caseworker
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime]

    request: Mapped[RemovalRequest] = relationship(back_populates="replies")


#: What the worker proposes for a platform's e-mail; the caseworker confirms it as a reply.
PROPOSED_STATUSES = ("acknowledged", "actioned", "rejected", "more_information")
#: A mailbox message is waiting for a caseworker (proposed, triage) or was dealt with.
MAILBOX_STATES = ("proposed", "triage", "confirmed", "dismissed")


class MailboxMessage(Base):
    """One e-mail read from the organisation's mailbox (IMAP): threaded to a removal request
    with a proposed status, or waiting in triage. Attachments: names and SHA-256 only."""

    __tablename__ = "mailbox_messages"
    __table_args__ = (UniqueConstraint("folder", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(300))
    sender: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    problem: Mapped[str | None] = mapped_column(String(300))  # why part of it was not kept
    sent_at: Mapped[datetime | None]  # its Date header
    read_at: Mapped[datetime]
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("removal_requests.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(12), index=True)
    proposed_status: Mapped[str | None] = mapped_column(String(20))
    proposed_reason: Mapped[str | None] = mapped_column(Text)
    platform_reference: Mapped[str | None] = mapped_column(String(120))
    reply_id: Mapped[int | None] = mapped_column(
        ForeignKey("request_replies.id", ondelete="SET NULL")
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    request: Mapped[RemovalRequest | None] = relationship()


class MailboxCursor(Base):
    """How far the worker read one IMAP folder: a restart reads nothing twice. A new
    UIDVALIDITY (the folder was rebuilt) starts the folder again."""

    __tablename__ = "mailbox_cursors"

    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


#: A web-form rung: prepared (text ready), submitted by a caseworker, then its outcome.
#: A notice rung's step is "notice": its state is its removal request's.
STEP_STATUSES = ("prepared", "submitted", "accepted", "refused", "notice")
STEP_OUTCOMES = ("accepted", "refused")


class EscalationStep(Base):
    """One rung of a reported URL's escalation ladder beyond the platform
    (disrupt/platforms/ladder.py): a notice to the host, CDN or registrar (``request_id``,
    sent through the outbox), or a web form (search-engine delisting, regulator, DSA art. 20
    and 21) whose prepared text the caseworker submits and records, with its deadline."""

    __tablename__ = "escalation_steps"
    __table_args__ = (UniqueConstraint("reported_url_id", "rung"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reported_url_id: Mapped[int] = mapped_column(
        ForeignKey("reported_urls.id", ondelete="CASCADE"), index=True)
    rung: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("removal_requests.id", ondelete="SET NULL"), index=True)
    #: who it goes to (a company or public body) and its form
    recipient: Mapped[str] = mapped_column(String(200))
    form_url: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(5))
    #: opaque, like a notice's: never the victim's case reference
    reference: Mapped[str] = mapped_column(String(40))
    prepared_text: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    their_reference: Mapped[str | None] = mapped_column(String(120))
    outcome_at: Mapped[datetime | None]
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    request: Mapped[RemovalRequest | None] = relationship()
