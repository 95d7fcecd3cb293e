"""Worker job: fold the URLs changed since the last run into the statistics cells."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from disrupt.dashboard.fold import fold_statistics, rebuild_statistics
from disrupt.dashboard.pending import count_pending
from disrupt.db import Database

# The worker's batches: one transaction each, which on SQLite holds the write lock that the
# portal's writes wait for, so kept short.
BATCH = 5000
# A backlog (after an upgrade, a restore or `disrupt refold-statistics`) folds in larger
# batches: each moves the cells of every day it touches once, whatever its size, so fewer
# batches write fewer cell rows. A backlog is more than the worker's checks can queue
# between two runs (~900 checks/s for STATS_FOLD_SECONDS, 30 s by default: 27,000).
# SQLite: at most 32,766 parameters in a statement (the batch's IN list).
BACKLOG = 50_000
BACKLOG_BATCH = {"postgresql": 50_000, "sqlite": 25_000}
# A rebuild (fold.rebuild_statistics) is one transaction: on SQLite it holds the write lock
# that the portal's writes wait for (30 s at most), on PostgreSQL the queue rows that a
# writer queuing the same URLs again waits for; about 25 s per million URLs on SQLite and
# 50 s on PostgreSQL here. The worker rebuilds only a backlog it folds in a few seconds and
# folds a larger one in batches; a command (`disrupt refold-statistics`, run by an
# administrator) rebuilds whatever the size.
WORKER_REBUILD_MAX = 200_000


def confirm_after(config: Any) -> timedelta:
    return timedelta(seconds=config["REMOVAL_CONFIRM_SECONDS"] * float(config["TIME_SCALE"]))


def _waiting(db: Database) -> int:
    with db.session() as session:
        return count_pending(session)


def batch_size(db: Database, waiting: int | None = None) -> int:
    """BATCH, or BACKLOG_BATCH while more than BACKLOG URLs wait."""
    if (_waiting(db) if waiting is None else waiting) <= BACKLOG:
        return BATCH
    return BACKLOG_BATCH.get(db.engine.dialect.name, BATCH)


def fold_changed_urls(db: Database, config: Any, *, max_urls: int | None = None,
                      max_seconds: float | None = None, batch: int | None = None) -> int:
    """Fold dirty URLs batch by batch, each batch in its own transaction; ``batch`` None:
    ``batch_size``. A backlog that holds every URL folded so far (nothing folded yet, or all
    queued again) is folded in one transaction first (fold.rebuild_statistics), unless
    ``max_urls`` bounds the work, or ``max_seconds`` does (the worker) and the backlog is
    over WORKER_REBUILD_MAX."""
    done, started = 0, time.monotonic()
    if batch is None:
        waiting = _waiting(db)
        batch = batch_size(db, waiting)
        if max_urls is None and batch > BATCH and (
                max_seconds is None or waiting <= WORKER_REBUILD_MAX):
            with db.session(claim=True) as session:
                done = rebuild_statistics(session, confirm_after=confirm_after(config))
                session.commit()
    while max_urls is None or done < max_urls:
        size = batch if max_urls is None else min(batch, max_urls - done)
        with db.session(claim=True) as session:
            count = fold_statistics(session, confirm_after=confirm_after(config), limit=size)
            session.commit()
        done += count
        if count < size:
            break
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    return done
