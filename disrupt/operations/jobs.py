"""The worker's heartbeat job: thin, commits once."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from disrupt.db import Database
from disrupt.operations.health import beat, forget_silent_workers

FORGET_AFTER = timedelta(days=7)


def record_heartbeat(db: Database, *, worker: str, started_at: datetime,
                     now: Callable[[], datetime]) -> None:
    # Write lock at BEGIN: on SQLite a read that turns into a write fails at once (not after
    # the busy timeout) when another process wrote in between.
    with db.session(claim=True) as session:
        moment = now()
        beat(session, worker=worker, started_at=started_at, now=moment)
        forget_silent_workers(session, now=moment, older_than=FORGET_AFTER)
        session.commit()
