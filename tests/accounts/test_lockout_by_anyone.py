"""Staff log in under guessing (issue 20, rows 3 and 12): failures lock the account to the
client that made them and slow the account down for everyone, but never refuse the right
password and a valid second factor from another client; concurrent requests on one account
never accept a TOTP code twice nor lose a failure. SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select

from disrupt.accounts import totp
from disrupt.accounts.models import AuditEvent, User
from disrupt.accounts.services import (
    FIRST_DELAY_SECONDS,
    LOCKOUT,
    MAX_ACCOUNT_DELAY_SECONDS,
    MAX_FAILED_LOGINS,
    account_delay,
    authenticate,
    locked_addresses,
    locked_for_client,
    record_audit,
    unlock,
    verify_second_factor,
)
from disrupt.db import utcnow
from tests.support.staff import PASSWORD, make_user, staff_client
from tests.support.web import current_code, post_form

EMAIL = "cw@example.org"
ATTACKER = {"REMOTE_ADDR": "192.0.2.66"}


def _password_step(client, password=PASSWORD):
    return post_form(client, "/console/login", {"email": EMAIL, "password": password})


def test_wrong_passwords_from_one_client_do_not_lock_out_another(app, db):
    make_user(app, EMAIL)
    attacker = app.test_client()
    attacker.environ_base.update(ATTACKER)
    for _ in range(MAX_FAILED_LOGINS):
        assert _password_step(attacker, "wrong password!!").status_code == 401
    assert _password_step(attacker).status_code == 401  # locked to the attacker's address
    owner = app.test_client()
    assert _password_step(owner).status_code == 302
    done = post_form(owner, "/console/login/code", {"code": current_code(owner, EMAIL)})
    assert done.status_code == 302 and owner.get("/console/").status_code == 200


def test_wrong_codes_from_one_client_do_not_lock_out_another(app, db):
    make_user(app, EMAIL)
    attacker = app.test_client()
    attacker.environ_base.update(ATTACKER)
    assert _password_step(attacker).status_code == 302  # a stolen password
    for _ in range(MAX_FAILED_LOGINS):
        assert post_form(attacker, "/console/login/code", {"code": "123456"}).status_code == 401
    right = current_code(attacker, EMAIL)
    assert post_form(attacker, "/console/login/code", {"code": right}).status_code in (302, 401)
    assert attacker.get("/console/").status_code == 302  # never logged in
    owner = app.test_client()
    assert _password_step(owner).status_code == 302
    done = post_form(owner, "/console/login/code", {"code": current_code(owner, EMAIL)})
    assert done.status_code == 302 and owner.get("/console/").status_code == 200


def test_guessing_from_many_clients_slows_the_account_down_within_a_bound(app, db):
    make_user(app, EMAIL)
    now = utcnow()
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == EMAIL))
        assert account_delay(s, user, now) == 0.0
        for n in range(MAX_FAILED_LOGINS + 30):
            record_audit(s, action="login_failed", now=now, record=user,
                         actor_kind="anonymous", remote_addr=f"192.0.2.{n}")
            if n == MAX_FAILED_LOGINS - 2:
                assert account_delay(s, user, now) == 0.0
            if n == MAX_FAILED_LOGINS - 1:
                assert account_delay(s, user, now) == FIRST_DELAY_SECONDS
        assert account_delay(s, user, now) == MAX_ACCOUNT_DELAY_SECONDS
        assert account_delay(s, user, now + LOCKOUT + timedelta(seconds=1)) == 0.0
        # No single address reached the limit: the right password works from any of them.
        assert authenticate(s, EMAIL, PASSWORD, now, "192.0.2.3") is not None


@contextmanager
def _request_transaction(db, barrier):
    """A form post's transaction. On PostgreSQL each request has read the user before the
    others write (the race); SQLite takes the write lock at BEGIN, so requests queue."""
    if db.is_sqlite:
        barrier.wait()
    with db.session(claim=True) as session:
        if not db.is_sqlite:
            session.scalar(select(User).where(User.email == EMAIL))
            barrier.wait()
        yield session


def _in_threads(count, work):
    """Run work(barrier) in `count` threads that start together; their results."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = work(barrier)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_one_totp_code_sent_at_once_is_accepted_once(app, db):
    make_user(app, EMAIL)
    cipher = app.extensions["disrupt.cipher"]
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == EMAIL))
        code = totp.code_at(cipher.decrypt(user.totp_secret_encrypted), totp.time_step(utcnow()))

    def attempt(barrier: threading.Barrier) -> str | None:
        with _request_transaction(db, barrier) as session:
            user = session.scalar(select(User).where(User.email == EMAIL))
            method = verify_second_factor(session, user, code, cipher, utcnow(), "192.0.2.9")
            session.commit()
            return method

    results = _in_threads(6, attempt)
    assert results.count("totp") == 1, results
    with db.session() as s:
        assert s.scalar(select(User.failed_logins).where(User.email == EMAIL)) == 5


def test_concurrent_wrong_passwords_are_all_counted(app, db):
    make_user(app, EMAIL)

    def attempt(barrier: threading.Barrier) -> bool:
        with _request_transaction(db, barrier) as session:
            found = authenticate(session, EMAIL, "wrong password!!", utcnow(), "192.0.2.9")
            session.commit()
            return found is None

    assert all(_in_threads(8, attempt))
    with db.session() as s:
        assert s.scalar(select(User.failed_logins).where(User.email == EMAIL)) == 8


def test_an_administrator_s_unlock_lifts_the_lock_on_a_client_address(app, db):
    """A caseworker who mistyped her password at the office is locked out there; the admin's
    Unlock (shown for such a lock) opens it again at once."""
    user_id = make_user(app, EMAIL)
    office = app.test_client()
    office.environ_base.update(ATTACKER)
    for _ in range(MAX_FAILED_LOGINS):
        assert _password_step(office, "wrong password!!").status_code == 401
    assert _password_step(office).status_code == 401
    admin = staff_client(app, "admin@example.org", "admin")
    page = admin.get("/console/admin/users").get_data(as_text=True)
    row = page[page.index(f'id="user-{user_id}"'):]
    assert "locked to 1 client address after failed log-ins" in row.split("</tr>")[0]
    unlock = f"/console/admin/users/{user_id}/unlock"
    assert unlock in row.split("</tr>")[0]
    assert post_form(admin, unlock, {}, token_from="/console/admin/users").status_code == 302
    page = admin.get("/console/admin/users").get_data(as_text=True)
    row = page[page.index(f'id="user-{user_id}"'):].split("</tr>")[0]
    assert "locked to" not in row and unlock not in row and "<td>active</td>" in row
    assert _password_step(office).status_code == 302
    done = post_form(office, "/console/login/code", {"code": current_code(office, EMAIL)})
    assert done.status_code == 302 and office.get("/console/").status_code == 200
    with db.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.record_id == user_id, AuditEvent.action == "unlock_user")))
    assert actions == ["unlock_user"]


def test_failures_after_an_unlock_lock_the_address_again(app, db):
    make_user(app, EMAIL)
    now = utcnow()
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == EMAIL))
        for _ in range(MAX_FAILED_LOGINS):
            record_audit(s, action="login_failed", now=now, record=user,
                         actor_kind="anonymous", remote_addr="192.0.2.9")
        assert locked_for_client(s, user, "192.0.2.9", now)
        assert locked_addresses(s, now) == {user.id: 1}
        unlock(user, now + timedelta(seconds=1))
        s.flush()
        later = now + timedelta(seconds=2)
        assert not locked_for_client(s, user, "192.0.2.9", later)
        assert locked_addresses(s, later) == {}
        for _ in range(MAX_FAILED_LOGINS):
            record_audit(s, action="login_failed", now=later, record=user,
                         actor_kind="anonymous", remote_addr="192.0.2.9")
        assert locked_for_client(s, user, "192.0.2.9", later)
        assert locked_addresses(s, later) == {user.id: 1}
