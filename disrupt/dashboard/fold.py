"""Fold dirty URLs into the statistics cells. Never commits: the caller (worker job, page
view, command) owns the transaction, on SQLite a claim session (write lock at BEGIN)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Table,
    delete,
    exists,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable, DropTable

from disrupt.dashboard.cells import in_batch, insert_all_cells, move_cells, stash_old_facts
from disrupt.dashboard.models import (
    PendingFold,
    TakedownFact,
    funnel_cells,
    takedown_cells,
)
from disrupt.dashboard.pending import claim, folded
from disrupt.dashboard.setfold import insert_all_facts, insert_facts

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


# On PostgreSQL, the URLs a rebuild folds: the queue's rows it took (rebuild_statistics).
rebuilt = Table("fold_rebuilt", MetaData(), Column("reported_url_id", BigInteger, primary_key=True),
                prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


# SQLite's page cache during a rebuild (KiB): the default (2 MiB) holds a small part of
# the pages that a rebuild reads and writes, and of its sorts, which spill to files beyond it.
REBUILD_CACHE_KIB = 256 * 1024


@contextmanager
def _sqlite_cache(session: Session, dialect: str) -> Iterator[None]:
    if dialect != "sqlite":
        yield
        return
    previous = int(session.scalar(text("PRAGMA cache_size")) or 0)
    session.execute(text(f"PRAGMA cache_size = -{REBUILD_CACHE_KIB}"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {previous}"))


def _folded_elsewhere(session: Session, members: Table) -> bool:
    """Whether a URL has a fact but is not in ``members``."""
    facts = TakedownFact.__table__
    outside = ~exists().where(members.c.reported_url_id == facts.c.reported_url_id)
    return session.scalar(select(facts.c.reported_url_id).where(outside).limit(1)) is not None


def rebuild_statistics(session: Session, *, confirm_after: timedelta) -> int:
    """Fold every pending URL in one pass when every URL already folded is pending again
    (nothing folded yet, or `disrupt refold-statistics`): the cells are then the sums of the
    pending URLs' facts alone, so facts and cells are emptied and written anew, with no old
    facts to subtract and no upsert, and the removal times read the check log once. Returns
    how many URLs it folded: 0 when a folded URL is not pending (the batches then fold them).

    On SQLite the claim session's write lock keeps the queue still. On PostgreSQL the queue's
    rows are deleted first (a writer queuing one of them again waits, then queues it anew,
    as with fold_statistics' row locks) and the facts locked against other folds (which take
    only URLs queued since, not folded before if the test below holds: theirs are added to
    the new cells after this transaction)."""
    dialect = session.get_bind().dialect.name
    pending = PendingFold.__table__
    if _folded_elsewhere(session, pending):
        return 0
    members = pending
    if dialect == "postgresql":
        savepoint = session.begin_nested()
        session.execute(CreateTable(rebuilt))
        taken = delete(pending).returning(pending.c.reported_url_id).cte("taken")
        session.execute(insert(rebuilt).from_select(["reported_url_id"],
                                                    select(taken.c.reported_url_id)))
        session.execute(text("LOCK TABLE takedown_facts IN EXCLUSIVE MODE"))
        members = rebuilt
        if _folded_elsewhere(session, members):  # folded since the first test
            savepoint.rollback()
            return 0
    count = session.scalar(select(func.count()).select_from(members)) or 0
    for table in (TakedownFact.__table__, takedown_cells, funnel_cells):
        session.execute(delete(table))
    with _sqlite_cache(session, dialect):
        insert_all_facts(session, members, confirm_after=confirm_after)
        insert_all_cells(session)
    if dialect == "postgresql":
        session.execute(DropTable(rebuilt))
        savepoint.commit()
    else:
        session.execute(delete(pending))
    return count
