"""Whatever code path changes a URL, its case or a request, the folded figures follow."""
from __future__ import annotations

import uuid

from disrupt.cases.models import Case
from disrupt.cases.services import classify_case
from disrupt.dashboard.fold import fold_statistics
from disrupt.dashboard.pending import count_pending, queue_urls
from disrupt.dashboard.services import takedown_statistics
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import record_delivery
from tests.dashboard import fixture


def test_delivery_classification_and_checks_mark_urls_for_the_fold(db):
    with db.session() as session:
        pic = fixture.add_platform(session, name="PicShare", domains=["picshare.test"],
                                   deadline_hours=48, contact="abuse@picshare.test")
        session.flush()
        case = fixture._case(session, "A", "01-05 08:00")
        url = fixture._url(session, case, "u1", pic, "01-05 08:00")
        request = RemovalRequest(
            case_id=case.id, platform_id=pic.id, legal_basis="dsa_art16", language="en",
            channel="email", subject="s", body="b", idempotency_key=uuid.uuid4().hex,
            status="queued", lease_owner="w", created_at=fixture.at("01-05 09:00"))
        request.urls = [url]
        session.add(request)
        session.commit()
        assert count_pending(session) == 1  # a new URL is counted at the next fold
        assert fold_statistics(session, confirm_after=fixture.CONFIRM) == 1
        figures = takedown_statistics(session, now=fixture.NOW)
        assert figures["overall"]["urls_notified"] == 0  # queued is not sent
        assert [r["count"] for r in figures["funnel"]] == [1, 1, 0, 0, 0]

        # the real delivery path (platforms.services.record_delivery) sets sent_at
        assert record_delivery(session, request, worker="w", now=fixture.at("01-05 10:00"))
        session.flush()
        assert count_pending(session) == 1
        fold_statistics(session, confirm_after=fixture.CONFIRM)
        overall = takedown_statistics(session, now=fixture.NOW)["overall"]
        assert (overall["urls_notified"], overall["pending"]) == (1, 1)

        # a caseworker reclassifies the case: the URL moves to the minors
        classify_case(session.get(Case, case.id), age_group="minor", high_priority=False,
                      now=fixture.at("01-05 10:30"))
        session.flush()
        assert count_pending(session) == 1
        fold_statistics(session, confirm_after=fixture.CONFIRM)
        ages = {r["age_group"]: r["urls_notified"]
                for r in takedown_statistics(session, now=fixture.NOW)["age_groups"]}
        assert ages == {"minor": 1, "adult or unknown": 0}

        # checks through the state machine: online, then removed and confirmed 1 h later
        fixture._checks(session, url, ("01-05 11:00", "online"), ("01-06 10:00", "removed"),
                        ("01-06 11:00", "removed"))
        assert count_pending(session) == 1
        fold_statistics(session, confirm_after=fixture.CONFIRM)
        session.commit()
        overall = takedown_statistics(session, now=fixture.NOW)["overall"]
        # upper: 01-06 10:00 - 01-05 10:00 = 24 h, bucket (18, 24]; lower: 11:00 - 10:00 = 1 h
        assert (overall["removed"], overall["takedown_rate"], overall["median_hours_from"],
                overall["median_hours_to"], overall["within_deadline"]) == (1, 1.0, 0, 24, 1)
        assert overall["mean_hours_upper"] == 24.0
        # folding again changes nothing (no double counting)
        assert fold_statistics(session, confirm_after=fixture.CONFIRM) == 0
        assert takedown_statistics(session, now=fixture.NOW)["overall"] == overall


def test_a_backlog_folds_in_larger_batches_and_the_worker_in_short_ones(db, monkeypatch):
    """The worker's batches hold SQLite's write lock briefly; a backlog (after an upgrade or
    a restore) goes in large ones. BACKLOG lowered so that three URLs make one."""
    from disrupt.dashboard import jobs

    monkeypatch.setattr(jobs, "BACKLOG", 2)
    with db.session() as session:
        case = fixture._case(session, "A", "01-05 08:00")
        for name in ("u1", "u2", "u3"):
            fixture._url(session, case, name, None, "01-05 08:00")
        session.commit()
        assert count_pending(session) == 3
    assert jobs.batch_size(db) == jobs.BACKLOG_BATCH[db.engine.dialect.name] > jobs.BATCH
    assert jobs.fold_changed_urls(db, {"REMOVAL_CONFIRM_SECONDS": 3600, "TIME_SCALE": 1}) == 3
    assert jobs.batch_size(db) == jobs.BATCH


def test_the_worker_rebuilds_only_a_backlog_it_folds_quickly(db, monkeypatch):
    """A rebuild is one transaction (SQLite's write lock for its whole length): the worker,
    bounded in time, folds a backlog over WORKER_REBUILD_MAX in batches; the administrator's
    command rebuilds it in one go. Limits lowered so that three URLs make a large backlog."""
    from disrupt.dashboard import jobs

    monkeypatch.setattr(jobs, "BACKLOG", 2)
    monkeypatch.setattr(jobs, "WORKER_REBUILD_MAX", 2)
    rebuilt: list[int] = []

    def spy(session, **kwargs):
        rebuilt.append(jobs.rebuild_statistics.__wrapped__(session, **kwargs))
        return rebuilt[-1]

    spy.__wrapped__ = jobs.rebuild_statistics
    monkeypatch.setattr(jobs, "rebuild_statistics", spy)
    config = {"REMOVAL_CONFIRM_SECONDS": 3600, "TIME_SCALE": 1}
    with db.session() as session:
        case = fixture._case(session, "A", "01-05 08:00")
        urls = [fixture._url(session, case, name, None, "01-05 08:00")
                for name in ("u1", "u2", "u3")]
        session.commit()
        ids = [u.id for u in urls]
    assert jobs.fold_changed_urls(db, config, max_seconds=20.0) == 3
    assert rebuilt == []
    with db.session(claim=True) as session:
        queue_urls(session, ids)
        session.commit()
    assert jobs.fold_changed_urls(db, config) == 3
    assert rebuilt == [3]
