"""The victim's case page is a server-side session: "Leave this site", another browser,
idleness, withdrawal and erasure end it for every copy of the cookie. SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.accounts.models import WebSession
from disrupt.cases.models import Case
from tests.support.web import CSRF_RE, post_form
from tests.victims.test_portal import follow, open_case

CLOSED = "Your case page is closed."


def _followed(app):
    """A browser that opened a case and follows it: (client, reference, secret)."""
    client = app.test_client()
    reference, secret = open_case(client)
    assert follow(client, reference, secret).status_code == 302
    assert client.get("/case").status_code == 200
    return client, reference, secret


def _copy(app, client, **request):
    """Another browser holding a copy of `client`'s cookie; its GET /case response."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other, other.get("/case", **request)


def _case_id(db, reference):
    with db.session() as s:
        return s.scalar(select(Case.id).where(Case.reference == reference))


def _rows(db, case_id):
    with db.session() as s:
        return s.scalars(select(WebSession).where(WebSession.case_id == case_id)
                         .order_by(WebSession.id)).all()


def test_a_cookie_copied_before_leave_this_site_opens_nothing_after(app, db):
    client, reference, _secret = _followed(app)
    cookie = client.get_cookie("session").value
    # The same address and user agent cannot be told apart: the copy works until she leaves.
    assert _copy(app, client)[1].status_code == 200
    token = CSRF_RE.search(client.get("/case").get_data(as_text=True))
    left = client.post("/case/leave", data={"csrf_token": token.group(1) or token.group(2)})
    assert left.status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    refused = thief.get("/case")
    assert refused.status_code == 302 and refused.location == "/case/follow"
    assert CLOSED in thief.get("/case/follow").get_data(as_text=True)
    assert client.get("/case").status_code == 302
    assert [row.end_reason for row in _rows(db, _case_id(db, reference))] == ["left"]


@pytest.mark.parametrize("request_from", [
    {"headers": {"User-Agent": "Mozilla/5.0 (other browser)"}},
    {"environ_base": {"REMOTE_ADDR": "192.0.2.44"}},
], ids=["user-agent", "address"])
def test_a_cookie_from_another_user_agent_or_address_is_refused_and_ends_it(app, db,
                                                                            request_from):
    client, reference, _secret = _followed(app)
    thief, refused = _copy(app, client, **request_from)
    assert refused.status_code == 302 and refused.location == "/case/follow"
    page = thief.get("/case/follow", **request_from).get_data(as_text=True)
    assert CLOSED in page and reference not in page
    # Ended for good, for the victim's own browser too: she follows her case again.
    assert client.get("/case").status_code == 302
    assert [row.end_reason for row in _rows(db, _case_id(db, reference))] == ["client"]


def test_after_erasure_every_session_of_the_case_is_dead(app, db):
    victim, reference, secret = _followed(app)
    laptop = app.test_client()
    follow(laptop, reference, secret)
    assert laptop.get("/case").status_code == 200
    stranger, _other, _secret = _followed(app)  # another case: untouched
    case_id = _case_id(db, reference)
    assert len(_rows(db, case_id)) == 2
    erased = post_form(victim, "/case/erase", {"confirm": "y"})
    assert erased.status_code == 200 and "erased" in erased.get_data(as_text=True)
    assert _rows(db, case_id) == []
    for browser in (victim, laptop):
        assert browser.get("/case").status_code == 302
    assert stranger.get("/case").status_code == 200


def test_withdrawal_ends_every_other_session_of_the_case(app, db):
    victim, reference, secret = _followed(app)
    laptop = app.test_client()
    follow(laptop, reference, secret)
    before = victim.get_cookie("session").value
    assert post_form(victim, "/case/withdraw", {"confirm": "y"}).status_code == 302
    # Her own browser goes on with a new session; the other one and the old cookie are out.
    assert "You withdrew this case" in victim.get("/case").get_data(as_text=True)
    assert laptop.get("/case").status_code == 302
    old = app.test_client()
    old.set_cookie("session", before)
    assert old.get("/case").status_code == 302
    reasons = [row.end_reason for row in _rows(db, _case_id(db, reference))]
    assert reasons == ["withdrawn", "withdrawn", None]


def _set_cookie_headers(response):
    return [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]


@pytest.mark.parametrize("base_url", ["http://localhost", "https://localhost"])
def test_the_victim_cookie_is_a_browser_session_cookie(app, base_url):
    client = app.test_client()
    reference, secret = open_case(client)
    page = client.get("/case/follow", base_url=base_url).get_data(as_text=True)
    token = CSRF_RE.search(page)
    response = client.post("/case/follow", base_url=base_url, data={
        "reference": reference, "secret": secret,
        "csrf_token": token.group(1) or token.group(2)})
    assert response.status_code == 302
    (cookie,) = _set_cookie_headers(response)
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert not any(a.startswith(("expires", "max-age")) for a in attributes), cookie
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert ("secure" in attributes) == base_url.startswith("https"), cookie
    assert client.get("/case", base_url=base_url).status_code == 200
    # No later response turns it into a persistent cookie either.
    for later in _set_cookie_headers(client.get("/case", base_url=base_url)):
        assert "expires" not in later.lower() or "1970" in later, later


def test_an_idle_victim_session_ends_after_the_victims_own_timeout(app, db):
    client, reference, _secret = _followed(app)
    minutes = app.config["VICTIM_IDLE_MINUTES"]
    assert minutes < app.config["SESSION_IDLE_MINUTES"]  # the victim's setting, not staff's
    case_id = _case_id(db, reference)
    with db.session() as s:
        for row in s.scalars(select(WebSession).where(WebSession.case_id == case_id)):
            row.last_seen_at -= timedelta(minutes=minutes, seconds=5)
        s.commit()
    response = client.get("/case")
    assert response.status_code == 302 and response.location == "/case/follow"
    assert "without activity" in client.get("/case/follow").get_data(as_text=True)
    assert client.get("/case").status_code == 302  # stays closed
    assert [row.end_reason for row in _rows(db, case_id)] == ["idle"]


def test_following_again_replaces_the_session(app, db):
    client, reference, secret = _followed(app)
    follow(client, reference, secret)
    assert client.get("/case").status_code == 200
    reasons = [row.end_reason for row in _rows(db, _case_id(db, reference))]
    assert reasons == ["replaced", None]


def test_the_victim_session_row_holds_no_token(app, db):
    client, reference, _secret = _followed(app)
    with client.session_transaction() as session:
        token = session["victim_sid"]
        assert reference not in str(dict(session))
    (row,) = _rows(db, _case_id(db, reference))
    assert row.kind == "victim" and row.user_id is None and row.revoked_at is None
    stored = [str(getattr(row, column.key)) for column in WebSession.__table__.columns]
    assert len(token) >= 40 and not any(token in value for value in stored)
    assert len(row.token_digest) == 64 and len(row.client_digest) == 64
