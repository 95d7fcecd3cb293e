"""The victim's cookie can be read by anyone holding it (it is only signed): it must say
nothing about the case (issue 20, row 7). The just-opened case's credentials wait in it
encrypted; once she follows her case it holds an opaque session token only."""
from __future__ import annotations

import base64
import json
import zlib

from sqlalchemy import select

from disrupt.cases.models import Case
from tests.victims.test_portal import follow, open_case

CONTACT = "me@example.org"


def _readable(cookie: str) -> str:
    """What anyone can read in a signed Flask session cookie, without the key."""
    compressed = cookie.startswith(".")
    payload = cookie.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(data) if compressed else data).decode()


def _case_id(db, reference):
    with db.session() as s:
        return s.scalar(select(Case.id).where(Case.reference == reference))


def test_the_cookie_says_nothing_about_the_case(app, db):
    client = app.test_client()
    reference, secret = open_case(client, contact=CONTACT)
    just_opened = _readable(client.get_cookie("session").value)
    assert follow(client, reference, secret).status_code == 302
    assert client.get("/case").status_code == 200
    following = _readable(client.get_cookie("session").value)
    case_id = _case_id(db, reference)
    for text in (just_opened, following):
        assert json.loads(text)  # really decoded
        for revealing in (reference, reference.replace("-", ""), secret, CONTACT, "case_id",
                          f": {case_id}", f":{case_id},", "pics.example"):
            assert revealing not in text, (revealing, text)
    # Following: an opaque token, a CSRF token and the language, nothing else.
    values = json.loads(following)
    assert set(values) <= {"victim_sid", "csrf_token", "language", "_flashes"}, values
    assert isinstance(values["victim_sid"], str) and len(values["victim_sid"]) >= 32
