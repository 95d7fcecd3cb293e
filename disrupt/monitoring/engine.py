"""The check engine of a worker process: it owns the transactions of the URL checks
(the services it calls never commit).

One :class:`CheckEngine` per worker process. A tick (:meth:`CheckEngine.drain`) claims
due URLs in batches under a lease, keeps claiming as checks finish, and runs the checks
on a thread pool in *lanes*: a lane holds one politeness slot of a host (shared with
every worker through the database) and checks that host's claimed URLs one after the
other, so a host never gets more than its concurrency and different hosts never wait
for each other.

The main thread does the database work in few, large transactions: it claims URLs,
takes the slots for the lanes it starts (every host of a claim in one transaction),
and writes the results in batches, each under the lease, releasing in the same
transaction the slots of lanes that ran out of work. A lane that runs dry hands its
slot back to the main thread, which gives it to the next lane of that host when more
URLs of the host were claimed meanwhile, or else releases it. Lanes touch the database
only when the host asks for spacing between requests (each request's start is then
reserved in ``host_slots``) or when a slot's lease must be renewed.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError

from disrupt.db import Database, utcnow
from disrupt.monitoring.checker import (
    Checker,
    CheckOutcome,
    CheckSettings,
    RequestRefused,
    StoredFingerprint,
)
from disrupt.monitoring.politeness import (
    SlotLease,
    SlotWant,
    release_slot,
    release_slots,
    reserve_slot,
    reserve_slots,
    reserve_start,
)
from disrupt.monitoring.services import (
    ClaimedURL,
    claim_due_urls,
    read_fingerprint,
    record_check,
    record_checks,
    release_claims,
    store_fingerprint,
)

log = logging.getLogger(__name__)

#: How often the main thread asks again for a slot that other workers hold.
SLOT_RETRY_SECONDS = 0.1
#: Results wait at most this long to be written with others (in one transaction).
WRITE_EVERY_SECONDS = 0.25
#: How long the main thread lets results gather once one came.
COLLECT_PAUSE_SECONDS = 0.01


class SlotLost(Exception):
    """A lane's slot lease ran out and no slot could be taken again: the lane stops."""


@dataclass
class _Host:
    """The claimed URLs of one host waiting for a lane, and the lanes and slots of the host."""

    concurrency: int
    spacing: float
    waiting: deque[ClaimedURL] = field(default_factory=deque)
    lanes: int = 0
    idle: list[SlotLease] = field(default_factory=list)  # held slots without a lane
    retry_at: float = 0.0  # monotonic time of the next slot request
    starving_since: float | None = None  # no lane and no slot since then


class CheckEngine:
    def __init__(self, db: Database, config: Any, *, worker: str,
                 now: Callable[[], datetime] = utcnow, checker: Checker | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.config, self.worker, self.now = db, config, worker, now
        self.settings = CheckSettings.from_config(config)
        self._client = None
        if checker is None:
            self._client = Checker.shared_transport()
            checker = Checker(self.settings, fingerprints=DatabaseFingerprints(db),
                              client=self._client)
        self.checker = checker
        self.lease = timedelta(seconds=float(config["LEASE_SECONDS"]))
        self.scale = float(config["TIME_SCALE"])
        self.confirm_after = timedelta(seconds=float(config["REMOVAL_CONFIRM_SECONDS"])
                                       * self.scale)
        self.invalid_after = timedelta(days=float(config["CHECK_INVALID_AFTER_DAYS"])
                                       * self.scale)
        self.batch = max(1, int(config["CHECK_BATCH_SIZE"]))
        self.write_rows = max(1, self.batch // 4)
        self.write_every = WRITE_EVERY_SECONDS
        self.host_concurrency = max(1, int(config["HOST_CONCURRENCY"]))
        self.host_spacing = max(0.0, float(config["HOST_SPACING_SECONDS"]))
        self.slot_wait = max(1.0, self.lease.total_seconds() / 3)
        self.gate = HostGate(db, holder=worker,
                             lease=timedelta(seconds=float(config["HOST_SLOT_LEASE_SECONDS"])),
                             clock=clock,
                             request_timeout=timedelta(seconds=float(config["CHECK_TIMEOUT"])))
        self.threads = max(1, int(config["CHECK_CONCURRENCY"]))
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="check")
        self._lock = threading.Lock()
        self._no_lanes = threading.Condition(self._lock)
        self._hosts: dict[str, _Host] = {}
        self._lanes = 0  # running lanes, never more than the threads
        self._results: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self._given_back: list[ClaimedURL] = []  # claims the main thread gave up on
        #: Seconds spent per phase, for the benchmark ("check" and "slot_wait" are summed
        #: over the threads / hosts; the others are the main thread's); "<phase>_cpu" is
        #: the CPU time of the thread(s) in that phase.
        self.timings: dict[str, float] = defaultdict(float)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self._client is not None:
            self._client.close()

    # -- lanes (thread pool) -------------------------------------------------------------
    def _limits(self, claim: ClaimedURL) -> tuple[int, float]:
        concurrency = claim.concurrency if claim.concurrency else self.host_concurrency
        spacing = claim.spacing if claim.spacing is not None else self.host_spacing
        return max(1, concurrency), max(0.0, spacing)

    def _next(self, host: str, held: list[SlotLease]) -> ClaimedURL | None:
        """The lane's next URL; None when there is none (the lane ends and its slot goes
        back to the main thread)."""
        with self._lock:
            state = self._hosts[host]
            if state.waiting:
                return state.waiting.popleft()
            state.lanes -= 1
            self._lane_ended()
            state.idle.append(held[0])
            return None

    def _lane_ended(self) -> None:  # with self._lock held
        self._lanes -= 1
        if not self._lanes:
            self._no_lanes.notify_all()

    def _lane(self, host: str, lease: SlotLease) -> None:
        held: list[SlotLease] = [lease]
        claim: ClaimedURL | None = None
        try:
            while (claim := self._next(host, held)) is not None:
                self._results.put(("checked", claim, self._check(claim, held)))
        except Exception as exc:  # a database error or a lost slot: give the claims back
            lost = isinstance(exc, SlotLost)
            if lost:
                log.info("politeness slot of %s lost; claims given back", host)
            else:
                log.exception("check lane for %s failed", host)
            with self._lock:
                state = self._hosts[host]
                state.lanes -= 1
                leftovers = [] if state.lanes else list(state.waiting)
                if not state.lanes:
                    state.waiting.clear()
                given_back = ([claim] if claim is not None else []) + leftovers
                # A lost slot may be another holder's now: only a slot still ours is released.
                self._results.put(("release", given_back, None if lost else held[0]))
                self._lane_ended()

    def _check(self, claim: ClaimedURL, held: list[SlotLease]) -> CheckOutcome:
        host = claim.host

        def before_request(request_host: str) -> None:
            if request_host != host:  # a picture on another host (a CDN): its own politeness
                other = self.gate.acquire(request_host, self.host_concurrency,
                                          self.host_spacing, wait=self.slot_wait)
                if other is None:
                    raise RequestRefused(f"no politeness slot free for {request_host}")
                try:
                    self.gate.before_request(other)
                finally:
                    self.gate.release(other)
                return
            if not self.gate.before_request(held[0]):  # our slot lease ran out: take one again
                lease = self.gate.acquire(host, *self._limits(claim), wait=self.slot_wait)
                if lease is None:
                    raise SlotLost(host)
                held[0] = lease
                self.gate.before_request(lease)

        started, cpu = time.monotonic(), time.thread_time()
        try:
            return self.checker.check(claim.target(), before_request=before_request)
        except SlotLost:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad URL must not stop the lane
            log.error("checking URL %s failed: %s", claim.id, type(exc).__name__)
            return CheckOutcome("indeterminate", f"checker error: {type(exc).__name__}",
                                None, None, 0, rule="network")
        finally:
            self._add(time.monotonic() - started, time.thread_time() - cpu)

    def _add(self, seconds: float, cpu: float) -> None:
        with self._lock:
            self.timings["check"] += seconds
            self.timings["check_cpu"] += cpu

    # -- slots and lanes (main thread) ---------------------------------------------------
    def _dispatch(self, claims: list[ClaimedURL]) -> None:
        with self._lock:
            for claim in claims:
                state = self._hosts.get(claim.host)
                if state is None:
                    state = self._hosts[claim.host] = _Host(*self._limits(claim))
                state.waiting.append(claim)
        self._start_lanes()

    def _start_lanes(self) -> None:
        """Start the lanes the waiting URLs need, within the threads: first on slots that
        lanes handed back, then on slots taken for every such host in one transaction."""
        now = time.monotonic()
        start: list[tuple[str, SlotLease]] = []
        wants: list[SlotWant] = []
        with self._lock:
            budget = self.threads - self._lanes
            for host, state in self._hosts.items():
                need = min(state.concurrency, len(state.waiting)) - state.lanes
                while need > 0 and budget > 0 and state.idle:
                    start.append((host, state.idle.pop()))
                    state.lanes += 1
                    self._lanes += 1
                    need -= 1
                    budget -= 1
                if need > 0 and budget > 0 and state.retry_at <= now:
                    wants.append(SlotWant(host, min(need, budget), state.concurrency,
                                          timedelta(seconds=state.spacing)))
                    budget -= min(need, budget)
        for host, lease in start:
            self.pool.submit(self._lane, host, lease)
        if not wants:
            return
        started, cpu = time.monotonic(), time.thread_time()
        taken = self.gate.try_acquire_many(wants)
        self.timings["slots"] += time.monotonic() - started
        self.timings["slots_cpu"] += time.thread_time() - cpu
        now = time.monotonic()
        with self._lock:
            for want in wants:
                state = self._hosts[want.host]
                leases = taken.get(want.host, [])
                state.lanes += len(leases)
                self._lanes += len(leases)
                if len(leases) < want.count:  # held by other workers: ask again later
                    state.retry_at = now + SLOT_RETRY_SECONDS
                if state.lanes:
                    if state.starving_since is not None:
                        self.timings["slot_wait"] += now - state.starving_since
                    state.starving_since = None
                elif state.starving_since is None:
                    state.starving_since = started
                elif now - state.starving_since >= self.slot_wait:
                    log.info("no politeness slot free for %s; claims given back", want.host)
                    self.timings["slot_wait"] += now - state.starving_since
                    self._given_back.extend(state.waiting)
                    state.waiting.clear()
                    state.starving_since = None
                for lease in leases:
                    self.pool.submit(self._lane, want.host, lease)

    def _slots_to_release(self, everything: bool = False) -> list[SlotLease]:
        """Slots handed back by lanes that no waiting URL needs (all of them at the end),
        and forget the hosts without work."""
        leases: list[SlotLease] = []
        with self._lock:
            for host in list(self._hosts):
                state = self._hosts[host]
                if everything or not state.waiting:
                    leases.extend(state.idle)
                    state.idle.clear()
                if not state.waiting and not state.lanes and not state.idle:
                    del self._hosts[host]
        return leases

    # -- the tick (main thread) ----------------------------------------------------------
    def _claim(self, limit: int) -> list[ClaimedURL]:
        per_host = 4 * self.host_concurrency
        with self._lock:
            busy = [h for h, state in self._hosts.items() if len(state.waiting) >= per_host]
        started, cpu = time.monotonic(), time.thread_time()
        with self.db.session(claim=True) as session:
            claims = claim_due_urls(session, worker=self.worker, now=self.now(), lease=self.lease,
                                    limit=limit, per_host=per_host, skip_hosts=busy)
            session.commit()
        self.timings["claim"] += time.monotonic() - started
        self.timings["claim_cpu"] += time.thread_time() - cpu
        return claims

    def _record(self, items: list[tuple[str, Any, Any]], released: list[ClaimedURL],
                slots: list[SlotLease]) -> int:
        """Write the results, give back the claims that were not checked and release the
        slots, in one transaction."""
        started, cpu = time.monotonic(), time.thread_time()
        checked = [(claim, outcome) for kind, claim, outcome in items if kind == "checked"]
        now = self.now()
        try:
            with self.db.session(claim=True) as session:
                written = record_checks(session, checked, worker=self.worker, now=now,
                                        confirm_after=self.confirm_after, scale=self.scale,
                                        invalid_after=self.invalid_after)
                release_claims(session, released, worker=self.worker)
                release_slots(session, slots, holder=self.worker)
                session.commit()
                count = len(written)
        except (IntegrityError, OperationalError):
            log.warning("batch write failed; writing the %d results one by one", len(checked))
            count = 0
            for claim, outcome in checked:
                try:
                    with self.db.session(claim=True) as session:
                        written_one = record_check(session, claim, outcome, worker=self.worker,
                                                   now=now, confirm_after=self.confirm_after,
                                                   scale=self.scale,
                                                   invalid_after=self.invalid_after)
                        session.commit()
                        count += written_one is not None
                except IntegrityError:
                    log.info("check of URL %s for %s already recorded", claim.id, claim.due_at)
            try:
                with self.db.session(claim=True) as session:
                    release_claims(session, released, worker=self.worker)
                    release_slots(session, slots, holder=self.worker)
                    session.commit()
            except OperationalError:  # the leases run out by themselves
                log.warning("could not give back %d claims and %d slots", len(released),
                            len(slots))
        self.timings["record"] += time.monotonic() - started
        self.timings["record_cpu"] += time.thread_time() - cpu
        return count

    def drain(self, max_seconds: float | None = None) -> int:
        """Check every due URL (claiming more as checks finish) until none is due or
        ``max_seconds`` have passed; returns the number of checks recorded."""
        limit_s = float(self.config["CHECK_DRAIN_SECONDS"]) if max_seconds is None else max_seconds
        stop_claiming = time.monotonic() + limit_s
        in_flight = recorded = 0
        may_claim = True
        pending: list[tuple[str, Any, Any]] = []  # results not written yet
        checked = 0  # of them, checks (the others give claims and slots back)
        given_back: list[ClaimedURL] = []
        slots: list[SlotLease] = []
        written_at = time.monotonic()
        try:
            while True:
                if (may_claim and in_flight <= self.batch // 2
                        and time.monotonic() < stop_claiming):
                    claims = self._claim(self.batch - in_flight)
                    if claims:
                        in_flight += len(claims)
                        self._dispatch(claims)
                    else:
                        may_claim = False  # until some checks finish
                else:
                    self._start_lanes()  # threads freed up, slots handed back or retried
                if in_flight == 0 and (not may_claim or time.monotonic() >= stop_claiming):
                    return recorded
                items = self._collect(timeout=0.05)
                pending.extend(items)
                checked += sum(1 for kind, _, _ in items if kind == "checked")
                released = [c for kind, claims, _ in items if kind == "release" for c in claims]
                given_back += released + self._given_back
                self._given_back = []
                slots += [lease for kind, _, lease in items
                          if kind == "release" and lease is not None]
                finished = checked + len(given_back)
                # Results are written in few, large transactions (a transaction costs more
                # CPU than the rows it writes): once enough came, a while passed, or
                # nothing else is in flight. Slots that lanes handed back stay ours until
                # then, for the next lanes of their host.
                if (finished >= self.write_rows or finished >= in_flight
                        or time.monotonic() >= written_at + self.write_every):
                    slots += self._slots_to_release()
                    if pending or given_back or slots:
                        recorded += self._record(pending, given_back, slots)
                        in_flight -= finished
                        may_claim = may_claim or finished > 0
                        pending, given_back, slots, checked = [], [], [], 0
                    written_at = time.monotonic()
        finally:
            with self._lock:  # the lanes hand their slots back right after their last result
                self._no_lanes.wait_for(lambda: not self._lanes, timeout=5.0)
            slots = self._slots_to_release(everything=True)
            if slots:
                with self.db.session(claim=True) as session:
                    release_slots(session, slots, holder=self.worker)
                    session.commit()

    def _collect(self, timeout: float) -> list[tuple[str, Any, Any]]:
        try:
            items = [self._results.get(timeout=timeout)]
        except queue.Empty:
            return []
        # Let the results of other lanes gather: one pass of the main loop (which looks at
        # every host) per handful of results, not per result.
        time.sleep(COLLECT_PAUSE_SECONDS)
        while len(items) < 500:
            try:
                items.append(self._results.get_nowait())
            except queue.Empty:
                break
        return items


class HostGate:
    """Blocking acquire / pace / release of host slots for one worker process."""

    def __init__(self, db: Database, *, holder: str, lease: timedelta,
                 clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep,
                 request_timeout: timedelta | None = None) -> None:
        self.db, self.holder, self.lease = db, holder, lease
        self.clock, self.sleep = clock, sleep
        # A request starts only on a lease that outlives it: renewed unless more than the
        # request's own timeout (and a second of slack) is left, so a slow request can never
        # run on past its slot into another worker's.
        needed = (request_timeout or lease / 2) + timedelta(seconds=1)
        self.renew_within = min(max(lease / 2, needed), lease)

    def try_acquire(self, host: str, concurrency: int, spacing: float) -> SlotLease | None:
        with self.db.session(claim=True) as session:
            lease = reserve_slot(session, host=host, holder=self.holder,
                                 concurrency=max(1, concurrency),
                                 spacing=timedelta(seconds=max(0.0, spacing)),
                                 lease=self.lease, now=self.clock())
            session.commit()
        return lease

    def try_acquire_many(self, wants: list[SlotWant]) -> dict[str, list[SlotLease]]:
        """Slots of many hosts in one transaction (see :func:`reserve_slots`)."""
        if not wants:
            return {}
        with self.db.session(claim=True) as session:
            taken = reserve_slots(session, wants, holder=self.holder, lease=self.lease,
                                  now=self.clock())
            session.commit()
        return taken

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
        if start is not None and lease.held_until - max(now, start) <= self.renew_within:
            # The check waited its turn past the lease: renew it, or learn it is lost.
            start = None
        if start is None:
            if lease.spacing <= timedelta(0) and lease.held_until - now > self.renew_within:
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


class DatabaseFingerprints:
    """Fingerprints in ``host_fingerprints`` (shared by all workers), with an in-process
    copy kept for at most ``memo_seconds``. Each read and write is its own transaction."""

    def __init__(self, db: Database, memo_seconds: float = 60.0) -> None:
        self.db = db
        self.memo_seconds = memo_seconds
        self._memo: dict[str, tuple[float, StoredFingerprint | None]] = {}
        self._lock = threading.Lock()

    def get(self, origin: str) -> StoredFingerprint | None:
        now = utcnow()
        with self._lock:
            memo = self._memo.get(origin)
        if memo is not None and memo[0] > time.monotonic():
            item = memo[1]
            return item if item is not None and item.expires_at > now else None
        with self.db.session() as session:
            item = read_fingerprint(session, origin, now)
        if item is not None:
            with self._lock:
                self._memo[origin] = (time.monotonic() + self.memo_seconds, item)
        return item

    def put(self, fingerprint: StoredFingerprint) -> None:
        with self.db.session(claim=True) as session:
            store_fingerprint(session, fingerprint)
            session.commit()
        with self._lock:
            self._memo[fingerprint.origin] = (time.monotonic() + self.memo_seconds, fingerprint)
