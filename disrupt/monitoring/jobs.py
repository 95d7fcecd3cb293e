"""Worker jobs for URL checks: a tick of the check engine (disrupt/monitoring/engine.py),
which owns the transactions."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from disrupt.db import Database
from disrupt.monitoring.checker import Checker
from disrupt.monitoring.engine import CheckEngine


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
