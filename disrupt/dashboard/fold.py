"""Fold dirty URLs into the statistics cells. Never commits: the caller (worker job, page
view, command) owns the transaction, on SQLite a claim session (write lock at BEGIN)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from disrupt.dashboard.cells import in_batch, move_cells, stash_old_facts
from disrupt.dashboard.models import (
    TakedownFact,
)
from disrupt.dashboard.pending import claim, folded
from disrupt.dashboard.setfold import insert_facts

TAKEDOWN_KEY = ("grain", "day", "platform_id", "legal_basis", "minor", "case_group")
FUNNEL_KEY = ("grain", "day", "platform_id", "minor", "case_group")


def fold_statistics(session: Session, *, confirm_after: timedelta, limit: int = 2000) -> int:
    """Fold up to `limit` pending URLs; returns how many. Safe to run in several processes at
    once: on PostgreSQL each batch is locked (SKIP LOCKED), on SQLite the write lock is held."""
    url_ids = claim(session, limit)
    if not url_ids:
        return 0
    replace_facts(session, url_ids, confirm_after=confirm_after)
    folded(session, url_ids)
    return len(url_ids)


def replace_facts(session: Session, url_ids: Sequence[int], *,
                  confirm_after: timedelta) -> None:
    """Recompute the facts of ``url_ids`` and move the cells by the difference, all in SQL
    (setfold.py, cells.py): set the old facts aside, swap them for the new ones, move the
    cells by the new minus the old."""
    stash_old_facts(session, url_ids)
    session.execute(delete(TakedownFact).where(
        in_batch(TakedownFact.reported_url_id, session.get_bind().dialect.name)),
        {"url_ids": list(url_ids)})
    insert_facts(session, url_ids, confirm_after=confirm_after)
    move_cells(session, url_ids)
