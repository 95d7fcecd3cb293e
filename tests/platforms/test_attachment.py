"""New addresses are attached to their platform by the platforms feature, through the
urls_reported event (cases imports no platform code)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.services import (
    DuplicateURL,
    add_normalized_urls,
    add_reported_url,
    add_reported_urls,
)
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


def test_a_case_s_addresses_are_announced_together_and_a_repeat_adds_none(db):
    """A victim's case opens with all its addresses in one announcement (one flush, one
    event); an address already in the case, or given twice, refuses the whole list."""
    now = utcnow()
    sent: list[list[str]] = []

    def count(_case, *, urls, **_kwargs) -> None:
        sent.append([u.url for u in urls])

    urls_reported.connect(count)
    try:
        with db.sessionmaker() as session:
            picshare = add_platform(session, name="PicShare", domains=["picshare.example"])
            case = _case(session, now)
            added = add_normalized_urls(
                session, case, ["https://picshare.example/a", "https://picshare.example/b"],
                reported_by="victim", now=now)
            assert sent == [["https://picshare.example/a", "https://picshare.example/b"]]
            for repeated in (["https://picshare.example/c", "https://picshare.example/a"],
                             ["https://picshare.example/d", "https://picshare.example/d"]):
                with pytest.raises(DuplicateURL):
                    add_normalized_urls(session, case, repeated, reported_by="victim", now=now)
            session.commit()
            assert [u.platform_id for u in added] == [picshare.id, picshare.id]
            assert len(sent) == 1
            assert session.scalar(select(func.count()).select_from(ReportedURL)
                                  .where(ReportedURL.case_id == case.id)) == 2
    finally:
        urls_reported.disconnect(count)
