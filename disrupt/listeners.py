"""Connects every feature's listeners to the domain events (disrupt/events.py). Called once
per process: by create_app, the worker and the CLI. Connecting twice changes nothing."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from disrupt.accounts import erasure as accounts_erasure
from disrupt.cases import erasure as cases_erasure
from disrupt.cases import tallies as cases_tallies
from disrupt.dashboard import erasure as dashboard_erasure
from disrupt.dashboard import pending as dashboard_pending
from disrupt.db import Database
from disrupt.events import case_erasure_committed, listeners_connected
from disrupt.evidence import erasure as evidence_erasure
from disrupt.monitoring import erasure as monitoring_erasure
from disrupt.monitoring import outbound as monitoring_outbound
from disrupt.platforms import attachment as platforms_attachment
from disrupt.platforms import erasure as platforms_erasure
from disrupt.platforms import waiting as platforms_waiting
from disrupt.platforms.exchange import erasure as exchange_erasure
from disrupt.victims import erasure as victims_erasure

#: Each feature's erasure module: its PERSONAL and NOT_PERSONAL column declarations.
ERASURE_MODULES = (accounts_erasure, cases_erasure, dashboard_erasure, evidence_erasure,
                   monitoring_erasure, platforms_erasure, exchange_erasure, victims_erasure)


def connect() -> None:
    for module in ERASURE_MODULES:
        module.connect()
    platforms_attachment.connect()
    cases_tallies.connect()
    dashboard_pending.connect()
    platforms_waiting.connect()
    monitoring_outbound.connect()
    listeners_connected()


def after_erasure(db: Database, session: Session, config: Any, case_id: int) -> None:
    """Once an erasure is committed: files outside the database go, and on SQLite the WAL
    is checkpointed and truncated so that no old page of the case stays in it."""
    case_erasure_committed.send(case_id, session=session, config=config)
    session.commit()  # the listeners only read: end their read so the checkpoint is whole
    db.checkpoint()
