"""New addresses are attached to their platform by the platforms feature, through the
urls_reported event (cases imports no platform code)."""
from __future__ import annotations

import pytest

from disrupt.cases.models import Case
from disrupt.cases.services import add_reported_url, add_reported_urls
from disrupt.db import utcnow
from disrupt.events import urls_reported
from disrupt.platforms.attachment import on_urls_reported
from disrupt.platforms.services import add_platform
from tests.support.factories import make_case


def _case(session, now) -> Case:
    return make_case(session, now=now, status="new")


def test_pasted_addresses_are_attached_to_the_platform_of_their_host(db):
    now = utcnow()
    with db.sessionmaker() as session:
        picshare = add_platform(session, name="PicShare", domains=["picshare.example"])
        clips = add_platform(session, name="Clips", domains=["clips.example"])
        case = _case(session, now)
        added, refused = add_reported_urls(
            session, case, "https://img.picshare.example/a.jpg\nhttps://clips.example/v/1\n"
            "https://picshare.example/b.jpg https://unknown.example/c", reported_by="caseworker",
            now=now)
        session.commit()
        assert refused == []
        assert [(u.host, u.platform_id) for u in added] == [
            ("img.picshare.example", picshare.id), ("clips.example", clips.id),
            ("picshare.example", picshare.id), ("unknown.example", None)]
        one = add_reported_url(session, case, "https://www.clips.example/v/2",
                               reported_by="victim", now=now)
        session.commit()
        assert one.platform is clips


def test_without_the_platforms_listener_an_address_is_refused_not_left_unattached(db):
    now = utcnow()
    urls_reported.disconnect(on_urls_reported)
    try:
        with db.sessionmaker() as session:
            case = _case(session, now)
            with pytest.raises(RuntimeError, match="no listener"):
                add_reported_url(session, case, "https://picshare.example/x.jpg",
                                 reported_by="caseworker", now=now)
    finally:
        urls_reported.connect(on_urls_reported)
