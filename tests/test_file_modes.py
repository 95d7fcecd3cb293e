"""Issue 20 row 8: the instance folder is 0700 and what DISRUPT creates in it is 0600 (the
SQLite database with its -wal and -shm, the keys, outgoing mail), whatever the umask; an
instance made by an older release (0755 folder) is tightened on start."""
from __future__ import annotations

import os
import stat
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import text

from disrupt import create_app
from disrupt.demo.simulator import NoticeMailbox
from disrupt.migrate import upgrade
from disrupt.platforms.channels import transmit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)  # the usual default: files 0644, folders 0755
    yield
    os.umask(previous)


def test_instance_database_keys_and_outbox_are_private(tmp_path, open_umask):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    os.chmod(instance, 0o755)  # an instance folder made by an earlier release
    app = create_app({"INSTANCE_PATH": str(instance), "MAIL_TRANSPORT": "outbox",
                      "TESTING": True})
    database = instance / "disrupt.sqlite3"
    assert app.config["DATABASE_URL"] == f"sqlite:///{database}"
    upgrade(app.config["DATABASE_URL"])
    db = app.extensions["disrupt.db"]
    with db.session() as session:  # a write, so that -wal and -shm exist
        session.execute(text("CREATE TABLE probe (x INTEGER)"))
        session.execute(text("INSERT INTO probe VALUES (1)"))
        session.commit()
        message = EmailMessage()
        message["To"] = "abuse@platform.example"
        message.set_content("notice")
        transmit(message, app.config, key="notice-key")
        assert Path(f"{database}-wal").exists() and Path(f"{database}-shm").exists()
        files = {path.relative_to(instance).as_posix(): _mode(path)
                 for path in instance.rglob("*")}
    db.dispose()
    assert _mode(instance) == 0o700
    assert files == {"secret_key": 0o600, "data_key": 0o600, "disrupt.sqlite3": 0o600,
                     "disrupt.sqlite3-wal": 0o600, "disrupt.sqlite3-shm": 0o600,
                     "outbox": 0o700, "outbox/notice-key.eml": 0o600}


def test_an_outbox_file_made_wider_is_rewritten_private(tmp_path, open_umask):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    old = outbox / "k.eml"
    old.write_text("old")
    os.chmod(old, 0o644)
    message = EmailMessage()
    message.set_content("again")
    transmit(message, {"MAIL_TRANSPORT": "outbox", "OUTBOX_DIR": str(outbox)}, key="k")
    assert _mode(outbox) == 0o700 and _mode(old) == 0o600 and b"again" in old.read_bytes()


def test_the_demo_mailbox_files_are_private(tmp_path, open_umask):
    folder = tmp_path / "demo" / "mail"
    message = EmailMessage()
    message["X-Disrupt-Idempotency-Key"] = "abc123"
    message.set_content("a notice as the simulated platform received it")
    path = NoticeMailbox(folder=folder).keep(message, message.as_bytes())
    assert path is not None and _mode(folder) == 0o700 and _mode(path) == 0o600
