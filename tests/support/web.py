"""Helpers for driving the app through its HTTP routes, CSRF tokens included."""
from __future__ import annotations

import re
from typing import Any

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: Any, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post_form(client: Any, path: str, data: dict[str, Any], token_from: str | None = None,
              **options: Any) -> Any:
    token = csrf_token(client, token_from or path)
    return client.post(path, data={**data, "csrf_token": token}, **options)


def login(client: Any, email: str, password: str) -> Any:
    """Log in with both factors: enrols the TOTP second factor on the first log in (the
    codes come from the secret, as an authenticator app would compute them)."""
    response = post_form(client, "/console/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if response.location.endswith("/console/enrol"):
        page = client.get("/console/enrol").get_data(as_text=True)
        secret = re.search(r'id="totp-secret">([^<]+)<', page)
        assert secret, page[:2000]
        code = totp_code(secret.group(1).replace(" ", ""), after=None)
        response = post_form(client, "/console/enrol", {"code": code})
        assert response.status_code == 200 and "recovery-codes" in response.get_data(
            as_text=True), response.get_data(as_text=True)[:2000]
        return response
    assert response.location.endswith("/console/login/code"), response.location
    response = post_form(client, "/console/login/code", {"code": current_code(client, email)})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def totp_code(secret: str, *, after: int | None) -> str:
    """A code for the earliest time step the server accepts: later than ``after`` (the
    last step used), within one step of now. Fails rather than wait 30 s."""
    from disrupt.accounts import totp
    from disrupt.db import utcnow

    current = totp.time_step(utcnow())
    step = current if after is None or after < current else after + 1
    assert step <= current + totp.VALID_WINDOW, "logged in too often in one 30 s window"
    return totp.code_at(secret, step)


def current_code(client: Any, email: str) -> str:
    """The next usable TOTP code of an enrolled user, from the database of the client's app."""
    from sqlalchemy import select

    from disrupt.accounts.models import User

    app = client.application
    with app.extensions["disrupt.db"].session() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        assert user is not None and user.totp_enrolled, email
        secret = app.extensions["disrupt.cipher"].decrypt(user.totp_secret_encrypted)
        return totp_code(secret, after=user.totp_last_step)


def created_credentials(html: str) -> tuple[str, str]:
    reference = re.search(r'id="case-reference">([^<]+)<', html)
    secret = re.search(r'id="case-secret">([^<]+)<', html)
    assert reference and secret, html[:2000]
    return reference.group(1), secret.group(1)


def console_login_in_browser(page: Any, base: str, email: str, password: str,
                             totp_secret: str) -> None:
    """Log in to the console in Chromium with both factors, from wherever `page` is."""
    if "/console/login" not in page.url:
        page.goto(f"{base}/console/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/login/code")
    page.fill("#code", totp_code(totp_secret, after=None))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/console/")
