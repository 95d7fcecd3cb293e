"""SQLite and the worker: a job transaction that reads and then writes must take the write lock
at BEGIN (`db.session(claim=True)`). A deferred one fails at once with "database is locked"
when another process committed between its read and its write — the busy timeout does not
help a stale read snapshot — and the job's work is lost for that run (the demo's worker lost
its evidence captures and heartbeats that way)."""
from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from disrupt.db import Database

ROOT = Path(__file__).resolve().parent.parent / "disrupt"


def _read_then_write(db: Database, path: Path, *, claim: bool) -> None:
    with db.session(claim=claim) as session:
        session.execute(text("SELECT v FROM t")).all()
        other = sqlite3.connect(path, timeout=0.2)  # another process's write, in between
        try:
            other.execute("UPDATE t SET v = v + 1")
            other.commit()
        except sqlite3.OperationalError:
            pass  # it waits for the write lock the job holds (here: gives up after 0.2 s)
        finally:
            other.close()
        session.execute(text("UPDATE t SET v = v + 10"))
        session.commit()


def test_a_deferred_read_then_write_fails_and_a_claim_session_does_not(tmp_path):
    path = tmp_path / "lock.sqlite3"
    db = Database(f"sqlite:///{path}")
    with db.session() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1, 0)"))
        session.commit()
    with pytest.raises(OperationalError, match="locked"):
        _read_then_write(db, path, claim=False)
    _read_then_write(db, path, claim=True)
    db.dispose()


def _job_modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if p.name in ("jobs.py", "engine.py"))


def test_every_job_session_that_commits_takes_the_write_lock_first():
    offenders = []
    for path in _job_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.With):
                continue
            for item in node.items:
                call = item.context_expr
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "session"):
                    continue
                claims = any(k.arg == "claim" and isinstance(k.value, ast.Constant)
                             and k.value.value is True for k in call.keywords)
                commits = any(isinstance(n, ast.Attribute) and n.attr == "commit"
                              for n in ast.walk(node))
                if commits and not claims:
                    offenders.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert _job_modules(), "no job module found"
    assert offenders == [], ("job sessions that commit without claim=True (a read then a "
                             f"write fails on SQLite when another process wrote): {offenders}")
