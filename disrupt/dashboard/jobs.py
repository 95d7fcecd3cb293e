"""Worker job: fold the URLs changed since the last run into the statistics cells."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from disrupt.dashboard.fold import fold_statistics
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


def confirm_after(config: Any) -> timedelta:
    return timedelta(seconds=config["REMOVAL_CONFIRM_SECONDS"] * float(config["TIME_SCALE"]))


def batch_size(db: Database) -> int:
    """BATCH, or BACKLOG_BATCH while more than BACKLOG URLs wait."""
    with db.session() as session:
        waiting = count_pending(session)
    if waiting <= BACKLOG:
        return BATCH
    return BACKLOG_BATCH.get(db.engine.dialect.name, BATCH)


def fold_changed_urls(db: Database, config: Any, *, max_urls: int | None = None,
                      max_seconds: float | None = None, batch: int | None = None) -> int:
    """Fold dirty URLs batch by batch, each batch in its own transaction; ``batch`` None:
    ``batch_size``."""
    done, started = 0, time.monotonic()
    batch = batch or batch_size(db)
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
