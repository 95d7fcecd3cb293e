"""One rule for pasted addresses everywhere (issue 14): the victim's new case, her add-URL
form and the console's add-URL accept the same bare domains and refuse a line of prose once,
not once per word."""
from __future__ import annotations

from disrupt.cases.services import add_reported_urls
from disrupt.db import utcnow
from disrupt.victims.forms import parse_url_block
from disrupt.victims.services import open_case
from tests.support.web import post_form
from tests.victims.test_portal import follow
from tests.victims.test_portal import open_case as open_case_on_portal

PASTED = "example.org/p/1\nHi, I saw the pictures on this site\nhttps://pics.example/a"
UNDERSTOOD = ["https://example.org/p/1", "https://pics.example/a"]


def test_victim_forms_and_console_share_one_rule(app, client, db):
    good, errors = parse_url_block(PASTED)
    assert good == UNDERSTOOD
    assert len(errors) == 1 and "Hi, I saw the pictures on this site" in errors[0]

    with db.session() as session:
        case, _ = open_case(session, age_group="adult", language="en", consent_notices=True,
                            consent_hash_sharing=False, contact=None, urls=[], hashes=[],
                            cipher=app.extensions["disrupt.cipher"], now=utcnow())
        added, refused = add_reported_urls(session, case, PASTED, reported_by="caseworker",
                                           now=utcnow())
        assert [row.url for row in added] == UNDERSTOOD
        assert [raw for raw, _ in refused] == ["Hi, I saw the pictures on this site"]
        session.rollback()

    # The portal's new-case form: one message for the line, and what was understood.
    response = post_form(client, "/case/new", {
        "reporter": "self", "intimate": "yes", "age_group": "adult", "language": "en",
        "consent_notices": "y", "urls": PASTED})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.count("“Hi, I saw the pictures on this site”") == 1 and "“Hi,”" not in html
    assert "Understood as web addresses: " + ", ".join(UNDERSTOOD) in html

    # Her add-URL form on the case page: the same.
    reference, secret = open_case_on_portal(client)
    follow(client, reference, secret)
    response = post_form(client, "/case/urls", {"urls": PASTED}, token_from="/case")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.count("“Hi, I saw the pictures on this site”") == 1
    assert "Understood as web addresses: " + ", ".join(UNDERSTOOD) in html
    response = post_form(client, "/case/urls", {"urls": "example.org/p/1"}, token_from="/case",
                         follow_redirects=True)
    assert "https://example.org/p/1" in response.get_data(as_text=True)
