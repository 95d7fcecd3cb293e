"""`disrupt create-user --totp`, `disrupt totp-code` and `disrupt reset-2fa`."""
from __future__ import annotations

import re

from disrupt.accounts import totp
from disrupt.db import utcnow
from tests.test_cli import run


def test_create_user_with_totp_then_code_then_reset(tmp_path):
    assert run("init", "--no-admin", tmp_path=tmp_path).returncode == 0
    created = run("create-user", "--email", "cw@example.org", "--password", "a fine passphrase",
                  "--totp", tmp_path=tmp_path)
    assert created.returncode == 0, created.stderr
    key = re.search(r"second factor key \(add it to an authenticator app\): ([A-Z2-7 ]+)\n",
                    created.stdout).group(1).replace(" ", "")
    assert "otpauth://totp/" in created.stdout
    codes = re.findall(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", created.stdout)
    assert len(codes) == 10
    code = run("totp-code", "cw@example.org", tmp_path=tmp_path)
    assert code.returncode == 0
    now = utcnow()
    valid = {totp.code_at(key, totp.time_step(now) + d) for d in (-1, 0)}
    assert code.stdout.strip() in valid
    missing = run("totp-code", "nobody@example.org", tmp_path=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "disrupt: no user with e-mail nobody@example.org")
    reset = run("reset-2fa", "cw@example.org", tmp_path=tmp_path)
    assert reset.returncode == 0
    after = run("totp-code", "cw@example.org", tmp_path=tmp_path)
    assert after.returncode == 1 and "no second factor" in after.stderr


def test_reset_2fa_also_lifts_the_locks_on_client_addresses(tmp_path):
    """The README's "the only admin locked out": after `disrupt reset-2fa` she logs in again
    from the address her failures locked."""
    from sqlalchemy import select

    from disrupt.accounts.models import User
    from disrupt.accounts.services import MAX_FAILED_LOGINS, locked_for_client, record_audit
    from disrupt.db import Database

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {"DISRUPT_DATABASE_URL": url}
    assert run("init", "--no-admin", tmp_path=tmp_path, env=env).returncode == 0
    assert run("create-user", "--email", "admin@example.org", "--password",
               "a fine passphrase", "--role", "admin", tmp_path=tmp_path,
               env=env).returncode == 0
    db = Database(url)
    try:
        with db.session() as s:
            user = s.scalar(select(User).where(User.email == "admin@example.org"))
            for _ in range(MAX_FAILED_LOGINS):
                record_audit(s, action="login_failed", now=utcnow(), record=user,
                             actor_kind="anonymous", remote_addr="192.0.2.7")
            s.commit()
            assert locked_for_client(s, user, "192.0.2.7", utcnow())
        reset = run("reset-2fa", "admin@example.org", tmp_path=tmp_path, env=env)
        assert reset.returncode == 0, reset.stderr
        with db.session() as s:
            user = s.scalar(select(User).where(User.email == "admin@example.org"))
            assert not locked_for_client(s, user, "192.0.2.7", utcnow())
    finally:
        db.dispose()
