"""Words, not codes, on the console's pages (issue 14): no `assignee_id: 2`, no `dsa_art16`."""
from __future__ import annotations

import re

from disrupt.platforms.services import add_platform
from disrupt.wording import detail_text, words
from tests.cases.test_console import _case
from tests.support.staff import staff_client
from tests.support.web import post_form

RAW_CODES = ("dsa_art16", "take_it_down", "lcen_art6", "assignee_id", "in_progress",
             "legal_basis", "age_group")


def _visible_text(html: str) -> str:
    """What a person reads: no tags, no attributes."""
    return re.sub(r"<[^>]+>", " ", html)


def test_case_and_request_pages_speak_in_words(app, db):
    with db.session() as s:
        add_platform(s, name="PicShare", domains=["picshare.test"], contact="abuse@x.test")
        s.commit()
    client = staff_client(app, "cw@example.org", "supervisor")
    case_id, _ = _case(app, urls=["https://picshare.test/p/1"])
    page = f"/console/cases/{case_id}"
    html = client.get(page).get_data(as_text=True)
    form = re.search(r'name="(p\d+)-url_ids" value="(\d+)"', html)
    prefix, url_id = form.group(1), form.group(2)
    # assign to oneself (an audit event with an assignee id), then send a request
    assert post_form(client, f"{page}/assign", {"assignee": "me"}, token_from=page)
    post_form(client, f"{page}/platforms/{prefix[1:]}/requests", {
        f"{prefix}-url_ids": url_id, f"{prefix}-legal_basis": "dsa_art16",
        f"{prefix}-language": "en"}, token_from=page)
    text = _visible_text(client.get(page).get_data(as_text=True))
    for code in RAW_CODES:
        assert code not in text, code
    assert "EU Digital Services Act, art. 16" in text and "waiting to be sent" in text
    assert "the person shown in the images" in text
    request_page = re.search(r'href="(/console/requests/\d+)"',
                             client.get(page).get_data(as_text=True)).group(1)
    text = _visible_text(client.get(request_page).get_data(as_text=True))
    assert "EU Digital Services Act, art. 16 (in English)" in text and "e-mail" in text


def test_detail_text_names_people_and_words_codes():
    assert detail_text({"assignee_id": 2, "case_id": 9}, {2: "Casey"}) == "assigned to: Casey"
    assert detail_text({"assignee_id": None}, {}) == "assigned to: nobody"
    assert detail_text({"legal_basis": "lcen_art6", "high_priority": True}, {}) == \
        "high priority: yes, legal basis: LCEN art. 6 (France)"
    assert words("sent", "request_status") == "sent, waiting for the platform"
    assert words("something_new", "request_status") == "something new"
    assert words(None, "channel") == "—"
