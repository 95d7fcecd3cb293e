"""Worker job: trace the hosts of reported URLs (RDAP and a look at the site's answer)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from disrupt.db import Database
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
    tracer = Tracer(TraceSettings.from_config(config), now=now, resolve=resolve)
    ttl = timedelta(hours=float(config["TRACE_TTL_HOURS"]) * scale)
    retry = timedelta(minutes=30 * scale)
    done = 0
    for trace_id, host, origin in claims:
        result = tracer.trace(host, origin)
        with db.session() as session:
            done += record_trace(session, trace_id, result, worker=worker, now=now(), ttl=ttl,
                                 retry=retry)
            session.commit()
    return done
