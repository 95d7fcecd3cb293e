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

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from disrupt.db import upsert_insert
from disrupt.monitoring.models import HostSlot


@dataclass
class SlotLease:
    host: str
    slot: int
    spacing: timedelta
    held_until: datetime
    #: Start time reserved for the next request (set by acquire, used once).
    reserved_start: datetime | None


def _lock_hosts(session: Session, slots: dict[str, int]) -> list[HostSlot]:
    """Lock the slot rows of ``slots``' hosts (created up to each host's count), in
    (host, slot) order so that two workers locking several hosts never deadlock."""
    query = (select(HostSlot).where(HostSlot.host.in_(sorted(slots)))
             .order_by(HostSlot.host, HostSlot.slot))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = list(session.scalars(query))
    have = {(r.host, r.slot) for r in rows}
    missing = [{"host": host, "slot": i} for host, count in sorted(slots.items())
               for i in range(count) if (host, i) not in have]
    if missing:
        session.execute(
            upsert_insert(session.get_bind().dialect.name, HostSlot).values(missing)
            .on_conflict_do_nothing(index_elements=["host", "slot"])
        )
        rows = list(session.scalars(query.execution_options(populate_existing=True)))
    return rows


def _lock_host(session: Session, host: str, concurrency: int) -> list[HostSlot]:
    return _lock_hosts(session, {host: concurrency})


@dataclass(frozen=True)
class SlotWant:
    """``count`` slots of ``host`` wanted, under the host's limits."""

    host: str
    count: int
    concurrency: int
    spacing: timedelta


def reserve_slots(session: Session, wants: list[SlotWant], *, holder: str, lease: timedelta,
                  now: datetime) -> dict[str, list[SlotLease]]:
    """Take up to ``count`` free slots of each wanted host in one transaction (fewer, or
    none, when other holders have them) and reserve each slot's first request start,
    ``spacing`` after the latest start of the host. Run in a claim session and commit at
    once."""
    if not wants:
        return {}
    rows = _lock_hosts(session, {w.host: max(1, w.concurrency) for w in wants})
    by_host: dict[str, list[HostSlot]] = {}
    for row in rows:
        by_host.setdefault(row.host, []).append(row)
    taken: dict[str, list[SlotLease]] = {}
    for want in wants:
        host_rows = by_host.get(want.host, [])
        free = [r for r in host_rows if r.slot < max(1, want.concurrency)
                and (r.holder is None or r.held_until is None or r.held_until <= now)]
        for slot in free[:max(0, want.count)]:
            starts = [r.last_started_at for r in host_rows if r.last_started_at is not None]
            start = max([now, *(s + want.spacing for s in starts)])
            slot.holder, slot.held_until, slot.last_started_at = holder, start + lease, start
            taken.setdefault(want.host, []).append(
                SlotLease(want.host, slot.slot, want.spacing, start + lease, start))
    return taken


def reserve_slot(session: Session, *, host: str, holder: str, concurrency: int,
                 spacing: timedelta, lease: timedelta, now: datetime) -> SlotLease | None:
    """Take a free slot of ``host`` and reserve the start time of its first request.
    None when every slot is held. Run in a claim session and commit at once."""
    taken = reserve_slots(session, [SlotWant(host, 1, concurrency, spacing)], holder=holder,
                          lease=lease, now=now)
    return taken[host][0] if host in taken else None


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
    release_slots(session, [lease], holder=holder)


def release_slots(session: Session, leases: list[SlotLease], *, holder: str) -> None:
    """Free slots this holder holds (in the caller's transaction)."""
    if not leases:
        return
    table = HostSlot.__table__
    if session.get_bind().dialect.name == "postgresql":
        # Lock in (host, slot) order first, as reserve_slots does: no deadlock.
        session.execute(
            select(table.c.id)
            .where(table.c.host.in_(sorted({lease.host for lease in leases})),
                   table.c.holder == holder)
            .order_by(table.c.host, table.c.slot).with_for_update()
        )
    session.connection().execute(
        update(table)
        .where(table.c.host == bindparam("b_host"), table.c.slot == bindparam("b_slot"),
               table.c.holder == holder)
        .values(holder=None, held_until=None),
        [{"b_host": lease.host, "b_slot": lease.slot} for lease in leases],
    )
