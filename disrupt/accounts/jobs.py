"""Worker job: drop the records of sessions that ended. Owns its transaction."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from disrupt.accounts.sessions import purge
from disrupt.db import Database

#: An ended session's record is kept this long (for the "why was I logged out" question).
ENDED_SESSION_KEPT = timedelta(days=1)


def purge_ended_sessions(db: Database, config: Any, *, now: Callable[[], datetime]) -> int:
    """Sessions revoked, or idle past every idle timeout, more than a day ago."""
    idle = max(float(config["SESSION_IDLE_MINUTES"]), float(config["VICTIM_IDLE_MINUTES"]))
    keep_for = max(ENDED_SESSION_KEPT, timedelta(minutes=idle))
    with db.session(claim=True) as session:
        dropped = purge(session, now(), keep_for)
        session.commit()
    return dropped
