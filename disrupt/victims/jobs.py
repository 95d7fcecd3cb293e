"""Worker job: the retention purge of what the portal leaves behind."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from disrupt.db import Database
from disrupt.victims.services import ThrottlePolicy, purge_erased_hashes, purge_throttles


def purge_retention(db: Database, config: Any, *, now: Callable[[], datetime]) -> dict[str, int]:
    """Drop finished lockout counters and the hash tombstones of erased cases whose
    retention is over."""
    moment = now()
    with db.session(claim=True) as session:
        purged = {
            "throttles": purge_throttles(session, moment, ThrottlePolicy.from_config(config)),
            "erased_hashes": purge_erased_hashes(
                session, moment, timedelta(days=config["ERASED_HASH_RETENTION_DAYS"])),
        }
        session.commit()
    return purged
