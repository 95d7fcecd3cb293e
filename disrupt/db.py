"""SQLAlchemy base, engine and sessions. Views, jobs and CLI commands own the commit."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    MetaData,
    TypeDecorator,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def upsert_insert(dialect: str, table: Any) -> Any:
    """An INSERT of the database in use (``dialect``: an engine's dialect name) that takes
    ``on_conflict_do_update`` / ``on_conflict_do_nothing``: PostgreSQL's or SQLite's."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def in_id_list(column: Any, dialect: str, param: str) -> Any:
    """``column`` is one of the ids in the list parameter ``param``: one array parameter on
    PostgreSQL (``= ANY``: one statement text whatever the count, where parsing and planning
    thousands of IN parameters costs more than the statement), an expanded IN list on SQLite
    (no arrays)."""
    if dialect == "postgresql":
        return column == any_(bindparam(param, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(bindparam(param, expanding=True))


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: object) -> Engine:
    if url.startswith("sqlite"):
        _create_private_file(url)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Python's sqlite3 opens transactions lazily; take control so BEGIN IMMEDIATE
            # can be issued where a claim must be atomic.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted and rewritten rows are overwritten with zeros, not left in free pages.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Claims read then write: take the write lock at BEGIN so two workers never
            # both read the same free rows (SQLite has no SELECT ... FOR UPDATE).
            immediate = conn.get_execution_options().get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _create_private_file(url: str) -> None:
    """SQLite creates -wal and -shm with the database file's mode: make it 0600 first."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except FileNotFoundError:  # no folder: SQLite will say so with its own error
        return
    os.close(fd)


class Database:
    """The engine and session factory of one app or process."""

    def __init__(self, url: str, **engine_kwargs: object) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.writer_sessionmaker = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, claim: bool = False) -> Iterator[Session]:
        """A session for a job or command; the caller commits, errors roll back.
        `claim=True` for transactions that read rows to lease them (write lock at BEGIN)."""
        session = (self.writer_sessionmaker if claim else self.sessionmaker)()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def checkpoint(self) -> bool:
        """SQLite: copy the WAL into the database and truncate it to zero bytes, so that
        pages written before an erasure are gone from the WAL file too. Waits for readers up to
        the busy timeout; False when one still held part of the WAL (the worker's retention
        purge checkpoints again)."""
        if not self.is_sqlite:
            return True
        raw = self.engine.raw_connection()  # outside any BEGIN: the checkpoint needs that
        try:
            cursor = raw.cursor()
            busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        return not busy

    def dispose(self) -> None:
        self.engine.dispose()
