"""Worker job: trace the hosts of reported URLs (RDAP and a look at the site's answer)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

from disrupt.db import Database
from disrupt.monitoring.engine import HostGate
from disrupt.tracing.services import claim_hosts, list_new_hosts, record_trace
from disrupt.tracing.tracer import Resolver, Tracer, TraceSettings, system_resolver


def trace_due_hosts(db: Database, config: Any, *, worker: str, now: Callable[[], datetime],
                    resolve: Resolver = system_resolver, limit: int = 20) -> int:
    """List new hosts, claim due ones, trace each outside any transaction, record it."""
    scale = float(config["TIME_SCALE"])
    with db.session(claim=True) as session:
        list_new_hosts(session, now=now())
        claims = claim_hosts(session, worker=worker, now=now(), limit=limit,
                             lease=timedelta(seconds=float(config["LEASE_SECONDS"])))
        session.commit()
    tracer = Tracer(TraceSettings.from_config(config), now=now, resolve=resolve,
                    site_turn=polite_turns(db, config, worker=worker))
    ttl = timedelta(hours=float(config["TRACE_TTL_HOURS"]) * scale)
    retry = timedelta(minutes=30 * scale)
    done = 0
    for trace_id, host, origin in claims:
        result = tracer.trace(host, origin)
        with db.session(claim=True) as session:  # it writes
            done += record_trace(session, trace_id, result, worker=worker, now=now(), ttl=ttl,
                                 retry=retry)
            session.commit()
    return done


def polite_turns(db: Database, config: Any, *, worker: str
                 ) -> Callable[[str], AbstractContextManager[bool]]:
    """The site's own request waits for a turn in the host's politeness slots, as the URL
    checks do (DESIGN.md §6); it takes only the host's first slot, whatever a platform allows."""
    gate = HostGate(db, holder=worker,
                    lease=timedelta(seconds=float(config["HOST_SLOT_LEASE_SECONDS"])),
                    request_timeout=timedelta(seconds=float(config["CHECK_TIMEOUT"])))
    spacing = max(0.0, float(config["HOST_SPACING_SECONDS"]))
    wait = max(1.0, float(config["LEASE_SECONDS"]) / 3)

    @contextmanager
    def turn(host: str) -> Iterator[bool]:
        lease = gate.acquire(host, 1, spacing, wait=wait)
        if lease is None:
            yield False
            return
        try:
            yield gate.before_request(lease)
        finally:
            gate.release(lease)

    return turn
