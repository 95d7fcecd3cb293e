"""`disrupt backup` and `disrupt restore` (issue 19): a populated instance backed up, restored
into an empty one, every case, hash, check and audit event found again, on SQLite and on
PostgreSQL; the wrong key, an altered file and a non-empty target are refused in one line."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select

from disrupt.accounts.models import AuditEvent
from disrupt.accounts.services import record_audit
from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.db import Database, utcnow
from disrupt.monitoring.models import URLCheck
from disrupt.security import DataCipher
from tests.support.apps import make_test_app, pg_admin_conninfo

TABLES = (Case, MediaHash, ReportedURL, URLCheck, AuditEvent)


def _populate(app) -> dict[str, int]:
    db = app.extensions["disrupt.db"]
    cipher = DataCipher(app.config["DATA_KEY"])
    now = utcnow()
    with db.session() as session:
        for n in range(3):
            case = Case(reference=f"DSR-BACKUP-{n}", status="in_progress", created_at=now,
                        updated_at=now, contact_encrypted=cipher.encrypt(f"v{n}@example.org"))
            session.add(case)
            session.flush()
            session.add(MediaHash(case_id=case.id, pdq="ab" * 32, pdq_quality=90,
                                  sha256=f"{n:064x}", pipeline="test", created_at=now))
            url = ReportedURL(case_id=case.id, url=f"https://host.test/{n}", host="host.test",
                              created_at=now, next_check_at=now)
            session.add(url)
            session.flush()
            for k in range(2):
                session.add(URLCheck(reported_url_id=url.id, due_at=now + timedelta(hours=k),
                                     checked_at=now, verdict="online", reason="test",
                                     detector_version="test"))
            record_audit(session, action="test_event", now=now, actor_kind="cli",
                         case_id=case.id)
        session.commit()
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in TABLES}


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "disrupt", *args], capture_output=True,
                          text=True, env=full, timeout=300)


@pytest.fixture
def empty_target(database_url, tmp_path):
    """An empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'disrupt.sqlite3'}"
        return
    name = f"disrupt_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_conninfo(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    from sqlalchemy.engine import make_url
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(pg_admin_conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_then_restore_into_an_empty_instance(database_url, empty_target, tmp_path):
    app = make_test_app(database_url, tmp_path)
    counts = _populate(app)
    app.extensions["disrupt.db"].dispose()
    source_env = {"DISRUPT_DATABASE_URL": database_url,
                  "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")}
    archive = tmp_path / "backup.disrupt"
    made = _run("backup", str(archive), env=source_env)
    assert made.returncode == 0, made.stderr
    assert "without that key the backup cannot be read" in made.stdout
    assert archive.stat().st_mode & 0o077 == 0
    raw = archive.read_bytes()
    for plain in (b"DSR-BACKUP-0", b"host.test/1", b"test_event"):
        assert plain not in raw

    # the new instance has the old data key, and nothing else
    new_instance = tmp_path / "new-instance"
    new_instance.mkdir()
    (new_instance / "data_key").write_text((tmp_path / "instance" / "data_key").read_text())
    target_env = {"DISRUPT_DATABASE_URL": empty_target,
                  "DISRUPT_INSTANCE_PATH": str(new_instance)}
    restored = _run("restore", str(archive), env=target_env)
    assert restored.returncode == 0, restored.stderr
    db = Database(empty_target)
    try:
        with db.session() as session:
            found = {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                     for model in TABLES}
            assert found == counts
            case = session.scalar(select(Case).where(Case.reference == "DSR-BACKUP-2"))
            cipher = DataCipher((new_instance / "data_key").read_text())
            assert cipher.decrypt(case.contact_encrypted) == "v2@example.org"
            assert session.scalar(select(MediaHash.sha256).where(MediaHash.case_id == case.id)) \
                == f"{2:064x}"
    finally:
        db.dispose()
    again = _run("restore", str(archive), env=target_env)
    assert again.returncode == 1
    assert "already has" in again.stderr and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    forced = _run("restore", "--force", str(archive), env=target_env)
    assert forced.returncode == 0, forced.stderr


def test_wrong_key_altered_file_and_missing_key_are_refused(sqlite_url, tmp_path):
    app = make_test_app(sqlite_url, tmp_path)
    _populate(app)
    app.extensions["disrupt.db"].dispose()
    env = {"DISRUPT_DATABASE_URL": sqlite_url, "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")}
    archive = tmp_path / "backup.disrupt"
    assert _run("backup", str(archive), env=env).returncode == 0
    target = {"DISRUPT_DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"}

    missing = _run("restore", str(archive), env={**target, "DISRUPT_INSTANCE_PATH":
                                                  str(tmp_path / "empty-instance")})
    assert missing.returncode == 1 and "no data key" in missing.stderr
    assert not (tmp_path / "empty-instance").exists()

    from cryptography.fernet import Fernet
    other = _run("restore", str(archive), env={**target, "DISRUPT_INSTANCE_PATH": str(tmp_path),
                                               "DISRUPT_DATA_KEY": Fernet.generate_key().decode()})
    assert other.returncode == 1 and "made with another data key" in other.stderr

    altered = bytearray(archive.read_bytes())
    altered[len(altered) // 2] ^= 0x01
    (tmp_path / "altered.disrupt").write_bytes(bytes(altered))
    bad = _run("restore", str(tmp_path / "altered.disrupt"),
               env={**target, "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")})
    assert bad.returncode == 1 and "damaged or altered" in bad.stderr
    cut = archive.read_bytes()[:-100]
    (tmp_path / "cut.disrupt").write_bytes(cut)
    short = _run("restore", str(tmp_path / "cut.disrupt"),
                 env={**target, "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")})
    assert short.returncode == 1 and ("cut short" in short.stderr or "altered" in short.stderr)
