"""Incrementally kept statistics (DESIGN.md §8).

A reported URL enters ``statistics_pending`` whenever something that moves a figure changes
(new addresses, checks, a caseworker's change of state, its case's status or age group, a
removal request covering it, its platform): the dashboard listens for those features' named
events (dashboard.pending). ``fold.fold_statistics`` turns pending URLs into one
``TakedownFact`` each and adds the difference between the new and the previous fact to two
tables of daily cells. The dashboard sums cells (a few rows per day) instead of reading the
check log.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.cases.models import URL_STATES
from disrupt.db import Base
from disrupt.platforms.models import removal_request_urls

# Time-to-removal histogram: bucket i holds times t with EDGES[i-1] < t <= EDGES[i] hours
# (bucket 0: 0 <= t <= 1 h; the last bucket: more than a year).
BUCKET_EDGES_HOURS: tuple[int, ...] = (
    1, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48, 72, 96, 120, 168, 240, 336, 504, 720, 1440, 2160,
    4380, 8760,
)
BUCKETS = len(BUCKET_EDGES_HOURS) + 1
UPPER_COLUMNS = tuple(f"up_{i:02d}" for i in range(BUCKETS))
LOWER_COLUMNS = tuple(f"lo_{i:02d}" for i in range(BUCKETS))
TAKEDOWN_COUNTERS: tuple[str, ...] = (
    ("urls", *URL_STATES, "reappeared", "timed", "within_deadline", "upper_sum_s", "lower_sum_s")
    + UPPER_COLUMNS + LOWER_COLUMNS
)
FUNNEL_COUNTERS: tuple[str, ...] = ("reported", "verified", "notified", "removed")
CASE_GROUPS = ("checked", "withdrawn", "erased")

# Cells come in three grains: "d" (a day), "w" (an ISO week) and "m" (a month); `day` is the
# period's first day. A range is read from whole months plus the days at its edges, so a
# page reads a few rows per month whatever the number of URLs.

# One row per (grain, period of the first request sent for a URL, platform, legal basis of
# that request, minor, case group): the URLs of that cohort by current state, their times.
takedown_cells = Table(
    "takedown_cells",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("grain", String(1), nullable=False),
    Column("day", Date, nullable=False),
    Column("week", Date, nullable=False),
    Column("month", Date, nullable=False),
    Column("year", Integer, nullable=False),
    Column("platform_id", Integer, nullable=False),
    Column("legal_basis", String(20), nullable=False),
    Column("minor", Boolean, nullable=False),
    Column("case_group", String(10), nullable=False),
    Column("max_deadline_epoch", BigInteger, nullable=False, default=0),
    *[Column(name, BigInteger, nullable=False, default=0) for name in TAKEDOWN_COUNTERS],
    UniqueConstraint("grain", "day", "platform_id", "legal_basis", "minor", "case_group"),
)

# One row per (grain, period the URL was reported in, platform or 0, minor, case group).
funnel_cells = Table(
    "funnel_cells",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("grain", String(1), nullable=False),
    Column("day", Date, nullable=False),
    Column("week", Date, nullable=False),
    Column("month", Date, nullable=False),
    Column("year", Integer, nullable=False),
    Column("platform_id", Integer, nullable=False),
    Column("minor", Boolean, nullable=False),
    Column("case_group", String(10), nullable=False),
    *[Column(name, BigInteger, nullable=False, default=0) for name in FUNNEL_COUNTERS],
    UniqueConstraint("grain", "day", "platform_id", "minor", "case_group"),
)

# The fold looks requests up by URL; the link table's primary key starts with request_id.
Index("ix_removal_request_urls_url_id", removal_request_urls.c.url_id)


class TakedownFact(Base):
    """What one reported URL contributes to the cells at the moment, kept so that the next
    change can subtract it. No personal data: dates, states, a platform, a legal basis."""

    __tablename__ = "takedown_facts"
    __table_args__ = (
        Index("ix_takedown_facts_sent_day", "sent_day"),
        Index("ix_takedown_facts_overdue", "state", "deadline_epoch"),
    )

    reported_url_id: Mapped[int] = mapped_column(
        ForeignKey("reported_urls.id", ondelete="CASCADE"), primary_key=True
    )
    created_day: Mapped[date]
    url_platform_id: Mapped[int]  # 0 when the host belongs to no known platform
    minor: Mapped[bool]
    case_group: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))
    reappeared: Mapped[bool]
    verified: Mapped[bool]
    first_request_id: Mapped[int | None]
    sent_at: Mapped[datetime | None]
    sent_day: Mapped[date | None]
    platform_id: Mapped[int | None]  # of the first request
    legal_basis: Mapped[str | None] = mapped_column(String(20))
    deadline_epoch: Mapped[int | None] = mapped_column(BigInteger)
    upper_s: Mapped[int | None] = mapped_column(BigInteger)
    lower_s: Mapped[int | None] = mapped_column(BigInteger)
    within_deadline: Mapped[bool] = mapped_column(default=False)

    @property
    def notified(self) -> bool:
        return self.sent_at is not None


class PendingFold(Base):
    """A reported URL whose figures may have moved since it was last folded: queued by the
    dashboard's listeners (dashboard.pending) on the events of the features that change what
    a fact reads, claimed and deleted by the fold."""

    __tablename__ = "statistics_pending"

    reported_url_id: Mapped[int] = mapped_column(
        ForeignKey("reported_urls.id", ondelete="CASCADE"), primary_key=True
    )
