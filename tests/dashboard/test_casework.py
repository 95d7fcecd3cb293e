"""The hotline's own figures (issue 14): people helped by outcome, our speed from a case
opened to its first verified URL and first notice, referrals by destination."""
from __future__ import annotations

from datetime import date

from disrupt.cases.models import Referral
from disrupt.dashboard.casework import casework_figures, nearest_rank
from disrupt.dashboard.services import takedown_statistics
from disrupt.platforms.services import add_platform
from tests.dashboard.fixture import NOW, _case, _checks, _request, _url, at


def _world(session):
    pics = add_platform(session, name="PicShare", domains=["picshare.test"], deadline_hours=48,
                        channel="email", contact="abuse@picshare.test")
    a = _case(session, "A", "01-01 00:00")
    url_a = _url(session, a, "a1", pics, "01-01 00:00")
    _checks(session, url_a, ("01-01 02:00", "online"))
    _request(session, a, pics, [url_a], "dsa_art16", "01-01 05:00")
    a.status, a.outcome = "closed", "removed"
    b = _case(session, "B", "01-02 00:00")
    url_b = _url(session, b, "b1", pics, "01-02 00:00")
    _checks(session, url_b, ("01-02 10:00", "removed"))
    _request(session, b, pics, [url_b], "dsa_art16", "01-04 00:00")
    c = _case(session, "C", "01-03 00:00")
    _url(session, c, "c1", pics, "01-03 00:00")
    c.status = "withdrawn"
    late = _case(session, "L", "02-05 00:00")  # opened after the period
    late.status = "closed"
    session.add(Referral(case_id=a.id, recipient="pharos", sent_at=at("01-04 00:00")))
    session.add(Referral(case_id=late.id, recipient="police", sent_at=at("02-06 00:00")))
    session.flush()


def test_casework_figures_by_hand(db):
    with db.session() as session:
        _world(session)
        figures = casework_figures(session, since=date(2026, 1, 1), until=date(2026, 2, 1))
    assert figures["cases_opened"] == 3
    assert {row["outcome"]: row["cases"] for row in figures["by_outcome"]} == {
        "open": 1, "withdrawn": 1, "removed": 1}
    speed = {row["step"]: row for row in figures["speed"]}
    assert speed["to_verification"] | {} == {
        "step": "to_verification", "label": "Case opened → first URL verified", "cases": 2,
        "median_hours": 2.0, "p90_hours": 10.0}
    assert (speed["to_first_notice"]["cases"], speed["to_first_notice"]["median_hours"],
            speed["to_first_notice"]["p90_hours"]) == (2, 5.0, 48.0)
    assert figures["referrals"] == [{"recipient": "pharos", "count": 1,
                                     "label": "PHAROS (internet-signalement.gouv.fr)"}]


def test_casework_is_part_of_the_statistics_and_the_whole_history(db):
    with db.session() as session:
        _world(session)
        stats = takedown_statistics(session, now=NOW)
    assert stats["casework"]["cases_opened"] == 4
    assert {r["recipient"] for r in stats["casework"]["referrals"]} == {"pharos", "police"}


def test_nearest_rank():
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([3.0], 0.9) == 3.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert nearest_rank([float(i) for i in range(1, 11)], 0.9) == 9.0
