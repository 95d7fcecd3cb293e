"""`disrupt doctor` (issue 19): a well-set instance has no problem; each wrong setting gives its
own line (real SMTP server, real database, real worker heartbeat, real key files)."""
from __future__ import annotations

import os
import subprocess
import sys

from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, free_port
from disrupt.operations.health import beat
from tests.support.apps import make_test_app

GOOD = {"MAIL_TRANSPORT": "smtp", "ORGANISATION_NAME": "Example Hotline",
        "ORGANISATION_EMAIL": "notices@hotline.example.org",
        "PUBLIC_URL": "https://hotline.example.org/", "PROXY_FIX_HOPS": 1}


def _doctor(database_url, tmp_path, **settings) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    env.update({"DISRUPT_DATABASE_URL": database_url,
                "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")})
    env.update({f"DISRUPT_{k}": str(v) for k, v in settings.items()})
    return subprocess.run([sys.executable, "-m", "disrupt", "doctor"], capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_well_set_instance_and_each_problem(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    with app.extensions["disrupt.db"].session() as session:
        beat(session, worker="w", started_at=utcnow(), now=utcnow())
        session.commit()
    mailbox = NoticeMailbox().start()
    try:
        fine = _doctor(database_url, tmp_path, SMTP_PORT=mailbox.port, **GOOD)
        assert fine.returncode == 0, fine.stdout + fine.stderr
        assert fine.stdout.startswith("no problem found")

        (tmp_path / "instance" / "data_key").chmod(0o644)
        bad = _doctor(database_url, tmp_path, SMTP_PORT=free_port(),
                      ORGANISATION_TIMEZONE="Mars/Base",
                      PUBLIC_URL="http://hotline.example.org/", ALLOW_LOOPBACK=1,
                      MAIL_TRANSPORT="smtp", HEARTBEAT_STALE_TICKS=0,
                      PORTAL_TIMEZONE="Europe/Paris", ORGANISATION_TIMEZNE="Europe/Paris")
    finally:
        mailbox.stop()
        app.extensions["disrupt.db"].dispose()
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    expected = ["data_key can be read by other users", "does not accept us",
                "'Mars/Base' is not a time zone",
                "DISRUPT_PORTAL_TIMEZONE is no longer read: rename it "
                "DISRUPT_ORGANISATION_TIMEZONE",
                "DISRUPT_ORGANISATION_TIMEZNE is not a setting of DISRUPT and is ignored",
                "ORGANISATION_NAME is the demo's",
                "ORGANISATION_EMAIL is not a real address", "PUBLIC_URL is not https",
                "ALLOW_LOOPBACK is on", "No worker seen for"]
    for fragment in expected:
        assert sum(fragment in line for line in lines) == 1, (fragment, lines)
    assert all(line.startswith("problem: ") for line in lines)
    assert len(lines) == len(expected)
    assert bad.stderr.strip() == f"disrupt: {len(expected)} problems found"


def test_outbox_transport_and_old_schema_are_problems(sqlite_url, tmp_path):
    from disrupt.migrate import upgrade

    app = make_test_app(sqlite_url, tmp_path)
    app.extensions["disrupt.db"].dispose()
    old = tmp_path / "old.sqlite3"
    upgrade(f"sqlite:///{old}", "0002")
    result = _doctor(f"sqlite:///{old}", tmp_path, **{**GOOD, "MAIL_TRANSPORT": "outbox"})
    # an old schema is refused before anything else, in one line
    assert result.returncode == 1
    assert result.stderr.strip() == "disrupt: the database is at an older schema: run " \
        "`disrupt init` first"
    outbox = _doctor(sqlite_url, tmp_path, **{**GOOD, "MAIL_TRANSPORT": "outbox"})
    assert "problem: MAIL_TRANSPORT is not smtp" in outbox.stdout
