"""Per-host politeness shared by every worker process (DESIGN.md §6).

A host has ``concurrency`` slots (rows of ``host_slots``). A worker holds a slot under
a lease while it checks URLs of that host, and every request to the host reserves a
start time at least ``spacing`` after the latest start of any slot of the host. The
rows of one host are locked (``FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on
SQLite) only for the few milliseconds of the reservation, never during a fetch, so
different hosts never wait for each other's requests. A crashed worker's slots are
free again when their lease runs out.

Time here is the real clock (``clock``), not the logical ``now`` of the checks.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from disrupt.db import Database, utcnow
from disrupt.monitoring.models import HostSlot


@dataclass
class SlotLease:
    host: str
    slot: int
    spacing: timedelta
    held_until: datetime
    #: Start time reserved for the next request (set by acquire, used once).
    reserved_start: datetime | None


def _dialect_insert(session: Session):  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _lock_host(session: Session, host: str, concurrency: int) -> list[HostSlot]:
    query = select(HostSlot).where(HostSlot.host == host).order_by(HostSlot.slot)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = list(session.scalars(query))
    have = {r.slot for r in rows}
    missing = [i for i in range(concurrency) if i not in have]
    if missing:
        insert = _dialect_insert(session)
        session.execute(
            insert(HostSlot).values([{"host": host, "slot": i} for i in missing])
            .on_conflict_do_nothing(index_elements=["host", "slot"])
        )
        rows = list(session.scalars(query.execution_options(populate_existing=True)))
    return rows


def reserve_slot(session: Session, *, host: str, holder: str, concurrency: int,
                 spacing: timedelta, lease: timedelta, now: datetime) -> SlotLease | None:
    """Take a free slot of ``host`` and reserve the start time of its first request.
    None when every slot is held. Run in a claim session and commit at once."""
    rows = _lock_host(session, host, concurrency)
    free = [r for r in rows if r.slot < concurrency
            and (r.holder is None or r.held_until is None or r.held_until <= now)]
    if not free:
        return None
    slot = free[0]
    starts = [r.last_started_at for r in rows if r.last_started_at is not None]
    start = max([now, *(s + spacing for s in starts)])
    slot.holder, slot.held_until, slot.last_started_at = holder, start + lease, start
    return SlotLease(host, slot.slot, spacing, start + lease, start)


def reserve_start(session: Session, lease: SlotLease, *, holder: str, lease_for: timedelta,
                  now: datetime) -> datetime | None:
    """Reserve the next request's start for a held slot (and renew the lease).
    None when the slot is no longer ours."""
    rows = _lock_host(session, lease.host, 0)
    mine = next((r for r in rows if r.slot == lease.slot and r.holder == holder), None)
    if mine is None:
        return None
    starts = [r.last_started_at for r in rows if r.last_started_at is not None]
    start = max([now, *(s + lease.spacing for s in starts)])
    mine.last_started_at, mine.held_until = start, start + lease_for
    lease.held_until = start + lease_for
    return start


def release_slot(session: Session, lease: SlotLease, *, holder: str) -> None:
    session.execute(
        update(HostSlot)
        .where(HostSlot.host == lease.host, HostSlot.slot == lease.slot,
               HostSlot.holder == holder)
        .values(holder=None, held_until=None)
    )


class HostGate:
    """Blocking acquire / pace / release of host slots for one worker process."""

    def __init__(self, db: Database, *, holder: str, lease: timedelta,
                 clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.db, self.holder, self.lease = db, holder, lease
        self.clock, self.sleep = clock, sleep

    def try_acquire(self, host: str, concurrency: int, spacing: float) -> SlotLease | None:
        with self.db.session(claim=True) as session:
            lease = reserve_slot(session, host=host, holder=self.holder,
                                 concurrency=max(1, concurrency),
                                 spacing=timedelta(seconds=max(0.0, spacing)),
                                 lease=self.lease, now=self.clock())
            session.commit()
        return lease

    def acquire(self, host: str, concurrency: int, spacing: float, *,
                wait: float) -> SlotLease | None:
        """Wait up to ``wait`` seconds for a slot; None if none came free."""
        give_up = time.monotonic() + wait
        delay = 0.02
        while True:
            lease = self.try_acquire(host, concurrency, spacing)
            if lease is not None or time.monotonic() >= give_up:
                return lease
            self.sleep(min(delay * (0.5 + random.random()), max(0.0, give_up - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def before_request(self, lease: SlotLease) -> bool:
        """Wait for this request's turn; False if the slot was lost (lease expired)."""
        start = lease.reserved_start
        lease.reserved_start = None
        now = self.clock()
        if start is None:
            if lease.spacing <= timedelta(0) and lease.held_until - now > self.lease / 2:
                return True
            with self.db.session(claim=True) as session:
                start = reserve_start(session, lease, holder=self.holder, lease_for=self.lease,
                                      now=now)
                session.commit()
            if start is None:
                return False
        delay = (start - self.clock()).total_seconds()
        if delay > 0:
            self.sleep(delay)
        return True

    def release(self, lease: SlotLease) -> None:
        with self.db.session(claim=True) as session:
            release_slot(session, lease, holder=self.holder)
            session.commit()
