"""Caseworker, supervisor and admin accounts for console tests, logged in with both factors."""
from __future__ import annotations

from typing import Any

from disrupt.accounts.services import create_user, enrol_totp
from disrupt.db import utcnow
from tests.support.web import login

PASSWORD = "correct horse battery"


def make_user(app: Any, email: str, role: str = "caseworker", *, enrolled: bool = True,
              name: str | None = None) -> int:
    """A user; ``enrolled`` sets the second factor up directly (as `disrupt create-user
    --totp` does), so the log in goes straight to the code step."""
    db = app.extensions["disrupt.db"]
    with db.session() as session:
        user = create_user(session, email=email, name=name or email.split("@")[0],
                           password=PASSWORD, role=role, now=utcnow())
        session.flush()
        if enrolled:
            enrol_totp(session, user, app.extensions["disrupt.cipher"], utcnow())
        session.commit()
        return user.id


def staff_client(app: Any, email: str, role: str = "caseworker") -> Any:
    """A test client logged in as a new user with this role."""
    make_user(app, email, role)
    client = app.test_client()
    login(client, email, PASSWORD)
    return client
