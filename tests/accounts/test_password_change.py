"""A user changes their own password: every session ends, the old password stops working,
mistakes are explained next to the field, and guessing the current one locks the account."""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from disrupt.accounts.models import AuditEvent, User
from tests.support.staff import PASSWORD, make_user
from tests.support.web import login, post_form

EMAIL = "cw@example.org"
NEW = "a brand new passphrase"


def _change(client, current, new, repeated=None):
    return post_form(client, "/console/account/password",
                     {"current": current, "new": new, "repeated": repeated or new},
                     token_from="/console/account")


def _events(db, action):
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == action))


def _password_step(app, password):
    return post_form(app.test_client(), "/console/login", {"email": EMAIL, "password": password})


def test_change_ends_every_session_and_only_the_new_password_works(app, db, caplog):
    caplog.set_level(logging.DEBUG)
    make_user(app, EMAIL)
    here, elsewhere = app.test_client(), app.test_client()
    login(here, EMAIL, PASSWORD)
    login(elsewhere, EMAIL, PASSWORD)
    response = _change(here, PASSWORD, NEW)
    assert response.status_code == 302 and response.location.endswith("/console/login")
    assert "Your password is changed" in here.get("/console/login").get_data(as_text=True)
    assert here.get("/console/").status_code == 302
    assert elsewhere.get("/console/").status_code == 302  # the other device is logged out
    assert _password_step(app, PASSWORD).status_code == 401
    step = _password_step(app, NEW)
    assert step.status_code == 302 and step.location.endswith("/console/login/code")
    assert _events(db, "password_changed") == 1
    with db.session() as session:
        details = " ".join(str(e.detail) for e in session.scalars(select(AuditEvent)))
    assert NEW not in details and NEW not in caplog.text and PASSWORD not in caplog.text


def test_mistakes_are_explained_and_change_nothing(app, db):
    make_user(app, EMAIL)
    client = app.test_client()
    login(client, EMAIL, PASSWORD)
    cases = [
        (("wrong password here", NEW, NEW), "The current password is not right."),
        ((PASSWORD, NEW, NEW + "!"), "The two new passwords are not the same."),
        ((PASSWORD, "short", "short"), "The new password is too short: at least 12"),
        ((PASSWORD, PASSWORD, PASSWORD), "The new password must differ"),
    ]
    for (current, new, repeated), message in cases:
        response = _change(client, current, new, repeated)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 200  # still logged in
    assert _events(db, "password_changed") == 0
    assert _events(db, "password_change_failed") == 1  # only the wrong current password
    assert _password_step(app, PASSWORD).status_code == 302


def test_guessing_the_current_password_locks_the_account_and_ends_the_session(app, db):
    make_user(app, EMAIL)
    client = app.test_client()
    login(client, EMAIL, PASSWORD)
    for _ in range(4):
        assert _change(client, "not the password", NEW).status_code == 400
    response = _change(client, "not the password", NEW)
    assert response.status_code == 302 and response.location.endswith("/console/login")
    assert client.get("/console/").status_code == 302
    with db.session() as session:
        user = session.scalar(select(User).where(User.email == EMAIL))
        assert user.failed_logins == 5
    # Locked to this client address, even with the right password.
    assert _password_step(app, PASSWORD).status_code == 401
