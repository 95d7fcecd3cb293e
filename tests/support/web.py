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


def post_form(client: Any, path: str, data: dict[str, Any], token_from: str | None = None) -> Any:
    token = csrf_token(client, token_from or path)
    return client.post(path, data={**data, "csrf_token": token})


def login(client: Any, email: str, password: str) -> Any:
    response = post_form(client, "/console/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def created_credentials(html: str) -> tuple[str, str]:
    reference = re.search(r'id="case-reference">([^<]+)<', html)
    secret = re.search(r'id="case-secret">([^<]+)<', html)
    assert reference and secret, html[:2000]
    return reference.group(1), secret.group(1)
