"""Worker job: fold the URLs changed since the last run into the statistics cells."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from disrupt.dashboard.fold import fold_statistics
from disrupt.db import Database


def confirm_after(config: Any) -> timedelta:
    return timedelta(seconds=config["REMOVAL_CONFIRM_SECONDS"] * float(config["TIME_SCALE"]))


def fold_changed_urls(db: Database, config: Any, *, max_urls: int | None = None,
                      max_seconds: float | None = None, batch: int = 5000) -> int:
    """Fold dirty URLs batch by batch, each batch in its own transaction."""
    done, started = 0, time.monotonic()
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
