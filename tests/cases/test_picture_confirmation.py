"""What a check cannot see, a person can (issue 12): an address online whose picture no check
has matched says "picture not confirmed" to the caseworker and "not yet confirmed" to the
victim; the caseworker can say the picture was seen, or check an address given up on again.
New addresses are first checked after a random delay, not at once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.cases.models import ReportedURL
from disrupt.cases.services import first_check_at
from disrupt.db import utcnow
from tests.cases.test_console import _case
from tests.support.apps import make_test_app
from tests.support.staff import staff_client
from tests.support.web import post_form
from tests.victims.test_portal import follow, open_case


def _set(db, url_id, **values):
    with db.session() as s:
        url = s.get(ReportedURL, url_id)
        for key, value in values.items():
            setattr(url, key, value)
        s.commit()


def _url_id(db, case_id):
    with db.session() as s:
        return s.scalar(select(ReportedURL.id).where(ReportedURL.case_id == case_id))


def test_the_caseworker_confirms_the_picture_and_rechecks_an_invalid_address(app, db):
    client = staff_client(app, "cw@example.org")
    case_id, _ = _case(app, urls=["https://pics.example/p/1"])
    url_id = _url_id(db, case_id)
    _set(db, url_id, state="online", check_count=1)
    page = f"/console/cases/{case_id}"
    html = client.get(page).get_data(as_text=True)
    assert "picture not confirmed" in html
    confirm = f"{page}/urls/{url_id}/confirm"
    assert confirm in html
    assert client.post(confirm).status_code == 400  # no CSRF token, nothing changes
    assert post_form(client, confirm, {}, token_from=page).status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "picture not confirmed" not in html and confirm not in html
    # Given up on after days of network failures: a caseworker has it checked again.
    later = utcnow()
    _set(db, url_id, state="invalid", state_reason="network failures since …",
         network_failing_since=later - timedelta(days=8), next_check_at=None)
    recheck = f"{page}/urls/{url_id}/recheck"
    assert recheck in client.get(page).get_data(as_text=True)
    assert post_form(client, recheck, {}, token_from=page).status_code == 302
    with db.session() as s:
        url = s.get(ReportedURL, url_id)
        assert url.state == "indeterminate" and url.network_failing_since is None
        assert url.next_check_at is not None and url.picture_confirmed_at is not None
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.case_id == case_id)))
    assert "confirm_picture" in actions and "resume_checking" in actions
    # An address still checked cannot be "checked again"; another case's address is not found.
    assert post_form(client, recheck, {}, token_from=page).status_code == 302
    assert "still being checked" in client.get(page).get_data(as_text=True)
    other_id, _ = _case(app, urls=["https://pics.example/p/2"])
    assert post_form(client, f"{page}/urls/{_url_id(db, other_id)}/confirm", {},
                     token_from=page).status_code == 404


def test_the_victim_reads_not_confirmed_until_the_picture_is_seen(app, db, client):
    reference, secret = open_case(client, urls="https://pics.example/p/1")
    follow(client, reference, secret)
    with db.session() as s:
        url_id = s.scalar(select(ReportedURL.id))
    _set(db, url_id, state="online", check_count=1)
    page = client.get("/case").get_data(as_text=True)
    assert "We have not yet confirmed that it shows your picture" in page
    assert "Still online." not in page
    _set(db, url_id, picture_confirmed_at=utcnow())
    page = client.get("/case").get_data(as_text=True)
    assert "Still online." in page and "not yet confirmed" not in page


def test_a_new_address_waits_a_random_while_for_its_first_check(database_url, tmp_path):
    now = utcnow()
    delay = timedelta(minutes=20)
    times = {first_check_at(now, delay) for _ in range(50)}
    assert all(now + delay / 5 <= t <= now + delay for t in times) and len(times) > 40
    assert first_check_at(now, timedelta(0)) == now
    # Through the portal, with the default setting: minutes, not seconds.
    app = make_test_app(database_url, tmp_path, CHECK_FIRST_DELAY_MINUTES=20.0)
    try:
        client = app.test_client()
        before = utcnow()
        open_case(client, urls="https://pics.example/p/1")
        with app.extensions["disrupt.db"].session() as s:
            due = s.scalar(select(ReportedURL.next_check_at))
        assert before + timedelta(minutes=4) <= due <= utcnow() + timedelta(minutes=20)
    finally:
        app.extensions["disrupt.db"].dispose()
