"""Two-factor log in: enrolment with a QR code, TOTP, recovery codes, replay, lockout,
idle timeout, sessions ended by admin changes, and no secret in the logs."""
from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy import func, select

from disrupt.accounts import totp
from disrupt.accounts.models import AuditEvent, RecoveryCode, User, WebSession
from disrupt.accounts.services import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    authenticate,
    enrol_totp,
)
from disrupt.db import utcnow
from tests.support.staff import PASSWORD, make_user, staff_client
from tests.support.web import current_code, login, post_form, totp_code


def _user(db, email):
    with db.session() as s:
        return s.scalar(select(User).where(User.email == email))


def _password_step(client, email, password=PASSWORD):
    return post_form(client, "/console/login", {"email": email, "password": password})


def test_enrolment_then_totp_login_and_replay_refused(app, db, caplog):
    caplog.set_level(logging.DEBUG)
    make_user(app, "new@example.org", enrolled=False)
    client = app.test_client()
    response = _password_step(client, "new@example.org")
    assert response.status_code == 302 and response.location.endswith("/console/enrol")
    # Not logged in yet: the second factor comes before anything else.
    assert client.get("/console/").status_code == 302
    page = client.get("/console/enrol").get_data(as_text=True)
    assert "<svg" in page and 'class="segno"' in page and "style=" not in page
    secret = re.search(r'id="totp-secret">([^<]+)<', page).group(1).replace(" ", "")
    wrong = post_form(client, "/console/enrol", {"code": "000000"})
    assert wrong.status_code == 400 and "not right" in wrong.get_data(as_text=True)
    code = totp_code(secret, after=None)
    done = post_form(client, "/console/enrol", {"code": code})
    html = done.get_data(as_text=True)
    codes = re.findall(r"<li><code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>", html)
    assert done.status_code == 200 and len(set(codes)) == 10
    assert client.get("/console/").status_code == 200

    user = _user(db, "new@example.org")
    assert user.totp_enrolled and secret.encode() not in user.totp_secret_encrypted
    assert app.extensions["disrupt.cipher"].decrypt(user.totp_secret_encrypted) == secret
    with db.session() as s:
        stored = list(s.scalars(select(RecoveryCode.code_digest)
                                .where(RecoveryCode.user_id == user.id)))
    assert len(stored) == 10 and not set(codes) & set(stored)

    # A second log in: the code used at enrolment is refused (replay), a new one works.
    other = app.test_client()
    _password_step(other, "new@example.org")
    replay = post_form(other, "/console/login/code", {"code": code})
    assert replay.status_code == 401
    ok = post_form(other, "/console/login/code", {"code": current_code(other, "new@example.org")})
    assert ok.status_code == 302 and other.get("/console/").status_code == 200

    logged = caplog.text
    assert PASSWORD not in logged and secret not in logged
    assert not any(c in logged for c in codes)
    with db.session() as s:
        details = " ".join(str(e.detail) for e in s.scalars(select(AuditEvent)))
    assert PASSWORD not in details and secret not in details and code not in details


def test_recovery_code_logs_in_once(app, db):
    make_user(app, "cw@example.org", enrolled=False)
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == "cw@example.org"))
        _secret, codes = enrol_totp(s, user, app.extensions["disrupt.cipher"], utcnow())
        s.commit()
    client = app.test_client()
    _password_step(client, "cw@example.org")
    used = codes[3].lower().replace("-", " ")  # typed loosely
    response = post_form(client, "/console/login/code", {"code": used})
    assert response.status_code == 302
    assert "9 left" in client.get("/console/").get_data(as_text=True)
    again = app.test_client()
    _password_step(again, "cw@example.org")
    assert post_form(again, "/console/login/code", {"code": codes[3]}).status_code == 401
    with db.session() as s:
        methods = [e.detail.get("method") for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action == "login"))]
    assert methods == ["recovery"]


def test_lockout_after_repeated_failures(app, db):
    make_user(app, "cw@example.org")
    client = app.test_client()
    for _ in range(MAX_FAILED_LOGINS):
        assert _password_step(client, "cw@example.org", "wrong password!!").status_code == 401
    # Locked to this client: even the right password is refused, with the same message.
    locked = _password_step(client, "cw@example.org")
    assert locked.status_code == 401 and "locked" in locked.get_data(as_text=True)
    with db.session() as s:
        assert authenticate(s, "cw@example.org", PASSWORD, utcnow(), "127.0.0.1") is None
        later = utcnow() + LOCKOUT + timedelta(seconds=1)
        assert authenticate(s, "cw@example.org", PASSWORD, later, "127.0.0.1") is not None
        # Another client address is not locked out by these failures.
        assert authenticate(s, "cw@example.org", PASSWORD, utcnow(), "192.0.2.7") is not None


def test_second_factor_failures_lock_too_and_password_does_not_reset_them(app, db):
    make_user(app, "cw@example.org")
    client = app.test_client()
    for attempt in range(MAX_FAILED_LOGINS):
        if attempt % 2 == 0:  # re-entering the password buys no new guesses
            assert _password_step(client, "cw@example.org").status_code == 302
        assert post_form(client, "/console/login/code", {"code": "123456"}).status_code == 401
    assert _user(db, "cw@example.org").failed_logins == MAX_FAILED_LOGINS
    # Even the right password is refused now, from this client.
    fresh = app.test_client()
    assert _password_step(fresh, "cw@example.org").status_code == 401


def _age_sessions(db, seconds):
    with db.session() as s:
        for row in s.scalars(select(WebSession)):
            row.last_seen_at -= timedelta(seconds=seconds)
        s.commit()


def test_idle_timeout_ends_the_session(app, db):
    client = staff_client(app, "cw@example.org")
    assert client.get("/console/").status_code == 200
    _age_sessions(db, app.config["SESSION_IDLE_MINUTES"] * 60 + 5)
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.location
    assert client.get("/console/").status_code == 302  # stays logged out
    with db.session() as s:
        assert s.scalar(select(WebSession.end_reason)) == "idle"


def test_the_cookie_opens_nothing_after_logout_or_from_another_browser(app, db):
    client = staff_client(app, "cw@example.org")
    assert client.get("/console/").status_code == 200
    cookie = client.get_cookie("session")
    # The cookie copied into another browser (another user agent) is refused, and the
    # session ends for the original browser too.
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/console/", headers={"User-Agent": "other"}).status_code == 302
    assert client.get("/console/").status_code == 302
    with db.session() as s:
        assert s.scalar(select(WebSession.end_reason)) == "client"
    # After a log out, replaying the old cookie opens nothing (ended on the server).
    client = staff_client(app, "cw2@example.org")
    cookie = client.get_cookie("session").value
    page = client.get("/console/")
    assert page.status_code == 200
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert client.post("/console/logout", data={"csrf_token": token.group(1).decode()}
                       ).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/console/").status_code == 302
    with db.session() as s:
        assert "logout" in set(s.scalars(select(WebSession.end_reason)))


def test_the_worker_drops_sessions_a_day_after_they_ended(app, db):
    from disrupt.accounts.jobs import purge_ended_sessions

    ended = staff_client(app, "cw@example.org")
    live = staff_client(app, "cw2@example.org")
    assert live.get("/console/").status_code == 200
    page = ended.get("/console/")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    assert ended.post("/console/logout", data={"csrf_token": token}).status_code == 302
    now = utcnow()
    assert purge_ended_sessions(db, app.config, now=lambda: now + timedelta(hours=1)) == 0
    assert purge_ended_sessions(db, app.config, now=lambda: now + timedelta(hours=25)) == 2
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0


def test_the_session_table_holds_no_token(app, db):
    client = staff_client(app, "cw@example.org")
    with client.session_transaction() as session:
        token = session["sid"]
    with db.session() as s:
        row = s.scalar(select(WebSession))
    assert row.token_digest != token and token not in row.token_digest
    assert len(row.client_digest) == 64


def test_pending_login_expires(app):
    make_user(app, "cw@example.org")
    client = app.test_client()
    _password_step(client, "cw@example.org")
    with client.session_transaction() as session:
        session["pending_login"]["at"] -= 3600
        session.modified = True
    response = post_form(client, "/console/login/code",
                         {"code": current_code(client, "cw@example.org")},
                         token_from="/console/login")
    assert response.status_code == 302 and response.location.endswith("/console/login")


def test_admin_changes_end_the_users_sessions(app, db):
    admin = staff_client(app, "admin@example.org", "admin")
    worker = staff_client(app, "cw@example.org")
    assert worker.get("/console/").status_code == 200
    uid = _user(db, "cw@example.org").id
    response = post_form(admin, f"/console/admin/users/{uid}/role", {"role": "supervisor"},
                         token_from="/console/admin/users")
    assert response.status_code == 302
    assert worker.get("/console/").status_code == 302  # re-roled: log in again
    assert _user(db, "cw@example.org").role == "supervisor"
    login(worker, "cw@example.org", PASSWORD)
    assert worker.get("/console/audit").status_code == 200
    post_form(admin, f"/console/admin/users/{uid}/disable", {}, token_from="/console/admin/users")
    assert worker.get("/console/").status_code == 302
    assert _password_step(app.test_client(), "cw@example.org").status_code == 401


def test_admin_resets_second_factor_then_user_enrols_again(app, db):
    admin = staff_client(app, "admin@example.org", "admin")
    make_user(app, "cw@example.org")
    uid = _user(db, "cw@example.org").id
    post_form(admin, f"/console/admin/users/{uid}/reset2fa", {},
              token_from="/console/admin/users")
    assert not _user(db, "cw@example.org").totp_enrolled
    client = app.test_client()
    assert _password_step(client, "cw@example.org").location.endswith("/console/enrol")


def test_admin_creates_users_and_cannot_lock_themselves_out(app, db):
    admin = staff_client(app, "admin@example.org", "admin")
    bad = post_form(admin, "/console/admin/users/new", {
        "email": "x@example.org", "name": "X", "role": "caseworker", "password": "short"})
    assert bad.status_code == 400 and 'value="x@example.org"' in bad.get_data(as_text=True)
    ok = post_form(admin, "/console/admin/users/new", {
        "email": "x@example.org", "name": "X", "role": "supervisor",
        "password": "a long enough password"})
    assert ok.status_code == 302 and _user(db, "x@example.org").role == "supervisor"
    me = _user(db, "admin@example.org").id
    post_form(admin, f"/console/admin/users/{me}/disable", {}, token_from="/console/admin/users")
    post_form(admin, f"/console/admin/users/{me}/role", {"role": "caseworker"},
              token_from="/console/admin/users")
    assert _user(db, "admin@example.org").active and _user(db, "admin@example.org").role == "admin"


def test_totp_window_and_replay_rules():
    secret = totp.new_totp_secret()
    now = utcnow()
    step = totp.time_step(now)
    assert totp.matching_step(secret, totp.code_at(secret, step), now, after=None) == step
    assert totp.matching_step(secret, totp.code_at(secret, step - 1), now, after=None) == step - 1
    assert totp.matching_step(secret, totp.code_at(secret, step - 2), now, after=None) is None
    assert totp.matching_step(secret, totp.code_at(secret, step), now, after=step) is None
    assert totp.matching_step(secret, "12345", now, after=None) is None
