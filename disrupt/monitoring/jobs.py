"""Worker jobs for URL checks: they own the transactions.

One :class:`CheckEngine` per worker process. A tick (:meth:`CheckEngine.drain`) claims
due URLs in batches under a lease, keeps claiming as checks finish, and runs the checks
on a thread pool in *lanes*: a lane holds one politeness slot of a host (shared with
every worker through the database) and checks that host's claimed URLs one after the
other, so a host never gets more than its concurrency and different hosts never wait
for each other. The main thread writes the results in batches, each under the lease.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError

from disrupt.db import Database, utcnow
from disrupt.monitoring.checker import Checker, CheckOutcome, CheckSettings
from disrupt.monitoring.politeness import HostGate, SlotLease
from disrupt.monitoring.services import (
    ClaimedURL,
    DatabaseFingerprints,
    claim_due_urls,
    record_check,
    record_checks,
    release_claims,
)

log = logging.getLogger(__name__)


class CheckEngine:
    def __init__(self, db: Database, config: Any, *, worker: str,
                 now: Callable[[], datetime] = utcnow, checker: Checker | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.config, self.worker, self.now = db, config, worker, now
        self.settings = CheckSettings.from_config(config)
        self._client = None
        if checker is None:
            self._client = Checker.shared_client()
            checker = Checker(self.settings, fingerprints=DatabaseFingerprints(db),
                              client=self._client)
        self.checker = checker
        self.lease = timedelta(seconds=float(config["LEASE_SECONDS"]))
        self.scale = float(config["TIME_SCALE"])
        self.confirm_after = timedelta(seconds=float(config["REMOVAL_CONFIRM_SECONDS"])
                                       * self.scale)
        self.batch = max(1, int(config["CHECK_BATCH_SIZE"]))
        self.host_concurrency = max(1, int(config["HOST_CONCURRENCY"]))
        self.host_spacing = max(0.0, float(config["HOST_SPACING_SECONDS"]))
        self.slot_wait = max(1.0, self.lease.total_seconds() / 3)
        self.gate = HostGate(db, holder=worker,
                             lease=timedelta(seconds=float(config["HOST_SLOT_LEASE_SECONDS"])),
                             clock=clock)
        self.pool = ThreadPoolExecutor(max_workers=max(1, int(config["CHECK_CONCURRENCY"])),
                                       thread_name_prefix="check")
        self._lock = threading.Lock()
        self._queues: dict[str, deque[ClaimedURL]] = {}
        self._lanes: dict[str, int] = defaultdict(int)
        self._results: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        #: Seconds spent per phase, for the benchmark ("check" and "slot_wait" are summed
        #: over the threads).
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

    def _dispatch(self, claims: list[ClaimedURL]) -> None:
        for claim in claims:
            concurrency, spacing = self._limits(claim)
            with self._lock:
                waiting = self._queues.setdefault(claim.host, deque())
                waiting.append(claim)
                if self._lanes[claim.host] >= min(concurrency, len(waiting)):
                    continue
                self._lanes[claim.host] += 1
            self.pool.submit(self._lane, claim.host, concurrency, spacing)

    def _next(self, host: str) -> ClaimedURL | None:
        with self._lock:
            waiting = self._queues.get(host)
            if waiting:
                return waiting.popleft()
            self._lanes[host] -= 1
            if self._lanes[host] <= 0:
                self._lanes.pop(host, None)
                self._queues.pop(host, None)
            return None

    def _give_up(self, host: str) -> None:
        with self._lock:
            self._lanes[host] -= 1
            if self._lanes[host] > 0:
                return
            self._lanes.pop(host, None)
            leftovers = list(self._queues.pop(host, ()))
        self._results.put(("release", leftovers, None))

    def _lane(self, host: str, concurrency: int, spacing: float) -> None:
        try:
            started = time.monotonic()
            lease = self.gate.acquire(host, concurrency, spacing, wait=self.slot_wait)
            self._add("slot_wait", time.monotonic() - started)
            if lease is None:
                log.info("no politeness slot free for %s; claims given back", host)
                self._give_up(host)
                return
            held: list[SlotLease] = [lease]
            try:
                while (claim := self._next(host)) is not None:
                    self._results.put(("checked", claim, self._check(claim, held)))
            finally:
                self.gate.release(held[0])
        except Exception:  # a database error: give the remaining claims back
            log.exception("check lane for %s failed", host)
            self._give_up(host)

    def _check(self, claim: ClaimedURL, held: list[SlotLease]) -> CheckOutcome:
        host = claim.host

        def before_request(request_host: str) -> None:
            if request_host != host:
                return
            if not self.gate.before_request(held[0]):  # our slot lease ran out: take one again
                lease = self.gate.acquire(host, *self._limits(claim), wait=self.slot_wait)
                if lease is not None:
                    held[0] = lease
                    self.gate.before_request(lease)

        started = time.monotonic()
        try:
            return self.checker.check(claim.target(), before_request=before_request)
        except Exception as exc:  # noqa: BLE001 - one bad URL must not stop the lane
            log.exception("checking %s failed", claim.url)
            return CheckOutcome("indeterminate", f"checker error: {type(exc).__name__}",
                                None, None, 0, rule="network")
        finally:
            self._add("check", time.monotonic() - started)

    def _add(self, key: str, seconds: float) -> None:
        with self._lock:
            self.timings[key] += seconds

    # -- the tick (main thread) ----------------------------------------------------------
    def _claim(self, limit: int) -> list[ClaimedURL]:
        per_host = 4 * self.host_concurrency
        with self._lock:
            busy = [h for h, waiting in self._queues.items() if len(waiting) >= per_host]
        started = time.monotonic()
        with self.db.session(claim=True) as session:
            claims = claim_due_urls(session, worker=self.worker, now=self.now(), lease=self.lease,
                                    limit=limit, per_host=per_host, skip_hosts=busy)
            session.commit()
        self.timings["claim"] += time.monotonic() - started
        return claims

    def _record(self, items: list[tuple[str, Any, Any]]) -> int:
        started = time.monotonic()
        checked = [(claim, outcome) for kind, claim, outcome in items if kind == "checked"]
        released = [c for kind, claims, _ in items if kind == "release" for c in claims]
        now = self.now()
        try:
            with self.db.session(claim=True) as session:
                written = record_checks(session, checked, worker=self.worker, now=now,
                                        confirm_after=self.confirm_after, scale=self.scale)
                release_claims(session, released, worker=self.worker)
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
                                                   scale=self.scale)
                        session.commit()
                        count += written_one is not None
                except IntegrityError:
                    log.info("check of URL %s for %s already recorded", claim.id, claim.due_at)
        self.timings["record"] += time.monotonic() - started
        return count

    def drain(self, max_seconds: float | None = None) -> int:
        """Check every due URL (claiming more as checks finish) until none is due or
        ``max_seconds`` have passed; returns the number of checks recorded."""
        limit_s = float(self.config["CHECK_DRAIN_SECONDS"]) if max_seconds is None else max_seconds
        stop_claiming = time.monotonic() + limit_s
        in_flight = recorded = 0
        may_claim = True
        while True:
            if (may_claim and in_flight <= self.batch // 2
                    and time.monotonic() < stop_claiming):
                claims = self._claim(self.batch - in_flight)
                if claims:
                    in_flight += len(claims)
                    self._dispatch(claims)
                else:
                    may_claim = False  # until some checks finish
            if in_flight == 0 and (not may_claim or time.monotonic() >= stop_claiming):
                return recorded
            items = self._collect(timeout=0.05)
            if items:
                recorded += self._record(items)
                in_flight -= sum(1 if kind == "checked" else len(claims)
                                 for kind, claims, _ in items)
                may_claim = True

    def _collect(self, timeout: float) -> list[tuple[str, Any, Any]]:
        try:
            items = [self._results.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(items) < 500:
            try:
                items.append(self._results.get_nowait())
            except queue.Empty:
                break
        return items


def run_due_checks(
    db: Database, config: Any, *, worker: str, now: Callable[[], datetime],
    checker: Checker | None = None, engine: CheckEngine | None = None,
) -> int:
    """Check the due URLs (one worker tick). Returns the number of checks recorded."""
    if engine is not None:
        return engine.drain()
    engine = CheckEngine(db, config, worker=worker, now=now, checker=checker)
    try:
        return engine.drain()
    finally:
        engine.close()
