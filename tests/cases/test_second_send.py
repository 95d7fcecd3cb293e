"""After a removal request, the case page says it was sent and does not offer the same
addresses again: a second request for them is refused, a follow-up is the way (issue 14)."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform
from tests.cases.test_console import _case
from tests.support.staff import staff_client
from tests.support.web import post_form


def _send(client, page, prefix, url_ids):
    return post_form(client, f"{page}/platforms/{prefix[1:]}/requests", {
        f"{prefix}-url_ids": url_ids, f"{prefix}-legal_basis": "dsa_art16",
        f"{prefix}-language": "en"}, token_from=page)


def test_the_same_addresses_are_not_sent_twice(app, db):
    with db.session() as s:
        add_platform(s, name="PicShare", domains=["picshare.test"], contact="abuse@x.test")
        s.commit()
    client = staff_client(app, "cw@example.org")
    case_id, _ = _case(app, urls=["https://picshare.test/p/1", "https://picshare.test/p/2"])
    page = f"/console/cases/{case_id}"
    html = client.get(page).get_data(as_text=True)
    boxes = re.findall(r'name="(p\d+)-url_ids" value="(\d+)"', html)
    assert len(boxes) == 2
    prefix, first, second = boxes[0][0], boxes[0][1], boxes[1][1]
    _send(client, page, prefix, first)
    html = client.get(page).get_data(as_text=True)
    # p/1 is shown as in a request (with a link), only p/2 can still be ticked
    assert re.findall(r'name="p\d+-url_ids" value="(\d+)"', html) == [second]
    covered = html.split('class="covered"', 1)[1].split("</ul>", 1)[0]
    assert "https://picshare.test/p/1" in covered and "waiting to be sent" in covered
    assert "/console/requests/" in covered
    # a hand-made second request for p/1 is refused with the way to go
    refused = _send(client, page, prefix, first)
    assert refused.status_code == 302
    flashed = client.get(page).get_data(as_text=True)
    assert "already in request" in flashed and "follow that request up" in flashed
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RemovalRequest)) == 1
    _send(client, page, prefix, second)
    html = client.get(page).get_data(as_text=True)
    assert "Every address on PicShare is in an open request" in html
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RemovalRequest)) == 2
