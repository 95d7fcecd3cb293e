"""The facts the fold computes in SQL (setfold.py) equal facts.build_fact's, URL by URL, on
seeded random check logs: equal times (the check id decides), times a microsecond apart
around the confirmation delay and the request, resets (online, restricted, invalid),
removals confirmed before the request was sent, several requests (the first sent decides,
then the lowest id), unsent requests and requests without a deadline; with a confirmation
delay of 1 h and of 0 (the second removed check confirms, even at the same time)."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from disrupt.cases.models import URL_STATES
from disrupt.dashboard.fold import fold_statistics, rebuild_statistics
from disrupt.dashboard.models import TakedownFact, funnel_cells, takedown_cells
from disrupt.dashboard.pending import count_pending, queue_everything, queue_urls
from disrupt.dashboard.reference import _all_facts
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.services import add_platform
from tests.dashboard import fixture
from tests.support.factories import add_url, make_case, make_request

VERDICTS = ("online", "removed", "removed", "removed", "restricted", "invalid",
            "indeterminate")
BASE = fixture.at("01-05 08:00")


def _moment(rng: random.Random) -> timedelta:
    """Half-hours, so that times meet the 1 h confirmation exactly, give or take 1 µs."""
    return timedelta(minutes=30 * rng.randrange(8),
                     microseconds=rng.choice((0, 0, 0, 1, 999_999)))


def _random_url(session, rng: random.Random, n: int, platforms) -> None:
    case = make_case(session, now=BASE, reference=f"SET-{n}",
                     age_group=rng.choice(("adult", "minor")),
                     status=rng.choice(("in_progress", "closed", "withdrawn", "erased")))
    platform = rng.choice((*platforms, None))
    url = add_url(session, case, f"https://x.test/{n}", now=BASE + _moment(rng),
                  platform=platform, state=rng.choice(URL_STATES),
                  reappeared=rng.random() < 0.2)
    checked = BASE
    for index in range(rng.randrange(9)):
        # a third of the checks at the time of the one before: the check id orders them
        checked = checked if rng.random() < 0.3 else BASE + _moment(rng)
        session.add(URLCheck(reported_url_id=url.id, due_at=BASE + timedelta(seconds=index),
                             checked_at=checked, verdict=rng.choice(VERDICTS), reason="r",
                             detector_version="test"))
    for _ in range(rng.randrange(3)):
        sent = BASE + _moment(rng)
        extra = {"deadline_at": None} if rng.random() < 0.3 else {}
        request = make_request(session, case, rng.choice(platforms), [url], sent_at=sent,
                               legal_basis=rng.choice(("dsa_art16", "take_it_down")), **extra)
        if rng.random() < 0.2:
            request.sent_at, request.status = None, "queued"
    session.flush()



def _three_hundred_urls(session) -> None:
    """300 URLs with random check logs on two platforms (48 h and 1 h deadlines), committed."""
    rng = random.Random(18)
    platforms = [add_platform(session, name=name, domains=[f"{name.lower()}.test"],
                              deadline_hours=hours, contact=f"abuse@{name.lower()}.test")
                 for name, hours in (("PicShare", 48), ("ClipHub", 1))]
    session.flush()
    for n in range(300):
        _random_url(session, rng, n, platforms)
    session.commit()

@pytest.mark.parametrize("confirm_after", [fixture.CONFIRM, timedelta(0)], ids=["1h", "0"])
def test_facts_computed_in_sql_equal_the_python_rules(db, confirm_after):
    with db.session() as session:
        _three_hundred_urls(session)
        while fold_statistics(session, confirm_after=confirm_after, limit=40):
            pass
        folded = {row.reported_url_id: dict(row._mapping)
                  for row in session.execute(select(TakedownFact.__table__))}
        expected = {fact["reported_url_id"]: fact
                    for fact in _all_facts(session, confirm_after)}
    assert len(folded) == 300
    for url_id, fact in expected.items():
        assert folded[url_id] == fact, url_id
    # the data reaches the rules that matter
    timed = [f for f in expected.values() if f["upper_s"] is not None]
    assert len(timed) >= 10
    assert any(f["lower_s"] > 0 for f in timed) and any(f["within_deadline"] for f in timed)
    assert any(f["sent_at"] is None and f["verified"] for f in expected.values())


def _cells(session) -> dict[str, set[tuple]]:
    return {table.name: {tuple(v for k, v in row._mapping.items() if k != "id")
                         for row in session.execute(select(table))}
            for table in (takedown_cells, funnel_cells)}


@pytest.mark.parametrize("confirm_after", [fixture.CONFIRM, timedelta(0)], ids=["1h", "0"])
def test_a_whole_backlog_is_rebuilt_in_one_pass_as_the_batches_fold_it(db, confirm_after):
    """Nothing folded yet, or everything queued again: rebuild_statistics writes the facts and
    the cells the batches write; with a folded URL not queued it leaves them to the batches."""
    with db.session() as session:
        _three_hundred_urls(session)
        assert rebuild_statistics(session, confirm_after=confirm_after) == 300
        session.commit()
        assert count_pending(session) == 0
        rebuilt = {row.reported_url_id: dict(row._mapping)
                   for row in session.execute(select(TakedownFact.__table__))}
        assert rebuilt == {fact["reported_url_id"]: fact
                           for fact in _all_facts(session, confirm_after)}
        rebuilt_cells = _cells(session)
        assert all(rebuilt_cells.values())

        queue_everything(session)
        while fold_statistics(session, confirm_after=confirm_after, limit=40):
            pass
        assert _cells(session) == rebuilt_cells  # the batches moved nothing: same sums
        for table in (TakedownFact.__table__, takedown_cells, funnel_cells):
            session.execute(delete(table))
        queue_everything(session)
        while fold_statistics(session, confirm_after=confirm_after, limit=40):
            pass
        assert _cells(session) == rebuilt_cells

        queue_everything(session)
        assert rebuild_statistics(session, confirm_after=confirm_after) == 300
        assert _cells(session) == rebuilt_cells

        url_ids = sorted(rebuilt)
        queue_urls(session, url_ids[1:])  # the first URL's fact is folded and not queued
        assert rebuild_statistics(session, confirm_after=confirm_after) == 0
        assert count_pending(session) == 299 and _cells(session) == rebuilt_cells
