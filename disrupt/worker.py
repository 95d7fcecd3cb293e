"""`disrupt worker`: one APScheduler process per worker machine. The work itself is claimed
from the database, so several workers never do the same thing twice."""
from __future__ import annotations

import gc
import logging
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from disrupt import listeners
from disrupt.accounts.jobs import purge_ended_sessions
from disrupt.dashboard.jobs import fold_changed_urls
from disrupt.db import Database, utcnow
from disrupt.evidence.jobs import purge_expired_evidence, run_pending_captures
from disrupt.logs import configure_logging
from disrupt.monitoring.engine import CheckEngine
from disrupt.monitoring.jobs import run_due_checks
from disrupt.operations.jobs import record_heartbeat
from disrupt.platforms.jobs import (
    raise_overdue_requests,
    read_platform_replies,
    send_queued_notices,
)
from disrupt.tracing.jobs import trace_due_hosts
from disrupt.victims.jobs import (
    purge_retention,
    send_contact_confirmations,
    send_victim_updates,
)

log = logging.getLogger(__name__)


def build_scheduler(db: Database, config: Any, *, worker: str) -> BlockingScheduler:
    listeners.connect()
    scheduler = BlockingScheduler(timezone="UTC")
    tick = float(config["WORKER_TICK_SECONDS"])
    common = dict(trigger="interval", seconds=tick, coalesce=True, max_instances=1,
                  replace_existing=True, next_run_time=utcnow())
    # First, so that a worker busy with a long batch of checks still says it is alive.
    scheduler.add_job(record_heartbeat, id="heartbeat", args=(db,),
                      kwargs={"worker": worker, "started_at": utcnow(), "now": utcnow}, **common)
    # One engine for the life of the process: its thread pool and HTTP client are reused.
    engine = CheckEngine(db, config, worker=worker, now=utcnow)
    scheduler.add_job(run_due_checks, id="check-due-urls", args=(db, config),
                      kwargs={"worker": worker, "now": utcnow, "engine": engine}, **common)
    scheduler.add_job(send_queued_notices, id="send-queued-notices", args=(db, config),
                      kwargs={"worker": worker, "now": utcnow}, **common)
    scheduler.add_job(raise_overdue_requests, id="raise-overdue-requests", args=(db, config),
                      kwargs={"now": utcnow}, **common)
    scheduler.add_job(fold_changed_urls, id="fold-statistics", args=(db, config),
                      kwargs={"max_seconds": 20.0},
                      **{**common, "seconds": float(config["STATS_FOLD_SECONDS"])})
    scheduler.add_job(purge_retention, id="purge-retention", args=(db, config),
                      kwargs={"now": utcnow},
                      **{**common, "seconds": float(config["RETENTION_PURGE_SECONDS"])})
    scheduler.add_job(run_pending_captures, id="evidence-captures", args=(db, config),
                      kwargs={"now": utcnow}, **common)
    scheduler.add_job(purge_expired_evidence, id="purge-evidence", args=(db, config),
                      kwargs={"now": utcnow},
                      **{**common, "seconds": float(config["RETENTION_PURGE_SECONDS"])})
    scheduler.add_job(purge_ended_sessions, id="purge-sessions", args=(db, config),
                      kwargs={"now": utcnow},
                      **{**common, "seconds": float(config["RETENTION_PURGE_SECONDS"])})
    scheduler.add_job(trace_due_hosts, id="trace-hosts", args=(db, config),
                      kwargs={"worker": worker, "now": utcnow},
                      **{**common, "seconds": float(config["TRACE_SECONDS"])})
    scheduler.add_job(send_victim_updates, id="send-victim-updates", args=(db, config),
                      kwargs={"worker": worker, "now": utcnow},
                      **{**common, "seconds": float(config["VICTIM_UPDATE_SECONDS"])})
    scheduler.add_job(send_contact_confirmations, id="send-contact-confirmations",
                      args=(db, config), kwargs={"worker": worker, "now": utcnow},
                      **{**common, "seconds": float(config["VICTIM_UPDATE_SECONDS"])})
    if config.get("IMAP_HOST") or config.get("MAILBOX_MAILDIR"):
        scheduler.add_job(read_platform_replies, id="read-platform-replies", args=(db, config),
                          kwargs={"now": utcnow},
                          **{**common, "seconds": float(config["IMAP_POLL_SECONDS"])})
    return scheduler


def freeze_startup_objects() -> None:
    """Keep what was loaded at start (modules, the schema, the settings) out of the garbage
    collector's full collections: with hundreds of check threads, each full collection
    stops them all for tens of milliseconds while it walks objects that live as long as
    the process (bench/checks.py)."""
    gc.collect()
    gc.freeze()


def run_worker(db: Database, config: Any, *, worker: str) -> None:
    configure_logging("worker", fmt=config["LOG_FORMAT"])
    log.info("worker started", extra={"worker": worker})
    scheduler = build_scheduler(db, config, worker=worker)
    freeze_startup_objects()
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("worker stopped", extra={"worker": worker})
