"""Deadlines: overdue requests are raised once (audit log, optional e-mail), a follow-up
quotes the original notice, and platforms that routinely miss deadlines stand out."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.db import utcnow
from disrupt.platforms.deadlines import deadline_records, overdue_requests
from disrupt.platforms.jobs import raise_overdue_requests, send_queued_notices
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import (
    NoticeError,
    add_platform,
    queue_follow_up,
    queue_removal_request,
    record_reply,
)
from tests.platforms.support import NOTIFIER, make_case
from tests.support.apps import make_test_app


@pytest.fixture
def world(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, ESCALATION_EMAIL="supervisors@hotline.example")
    yield app, app.extensions["disrupt.db"]
    app.extensions["disrupt.db"].dispose()


def _platform(session, name: str, hours: int):
    from disrupt.platforms.models import Platform

    found = session.scalar(select(Platform).where(Platform.name == name))
    return found or add_platform(session, name=name, domains=[f"{name.lower()}.example"],
                                 channel="email", contact=f"abuse@{name.lower()}.example",
                                 deadline_hours=hours)


def _send(app, db, name: str, hours: int, at, n_urls: int = 1, assignee_id=None) -> int:
    """Queue a request to `name` at `at` and send it (outbox folder) at the same time."""
    with db.session() as session:
        platform = _platform(session, name, hours)
        case = make_case(session, [f"https://{name.lower()}.example/{at.timestamp()}/{i}.jpg"
                                   for i in range(n_urls)], now=at, assignee_id=assignee_id)
        request = queue_removal_request(session, case=case, platform=platform,
                                        urls=list(case.urls), legal_basis="dsa_art16",
                                        language="en", notifier=NOTIFIER, now=at)
        session.flush()
        request_id = request.id
        session.commit()
    assert send_queued_notices(db, app.config, worker="w", now=lambda: at) == 1
    return request_id


def test_overdue_is_raised_once_audited_and_mailed(world):
    app, db = world
    start = utcnow() - timedelta(days=3)
    request_id = _send(app, db, "Slowtube", 24, start)
    assert raise_overdue_requests(db, app.config, now=lambda: start + timedelta(hours=23)) == 0
    late = start + timedelta(hours=25)
    assert raise_overdue_requests(db, app.config, now=lambda: late) == 1
    assert raise_overdue_requests(db, app.config, now=lambda: late + timedelta(hours=1)) == 0
    with db.session() as session:
        request = session.get(RemovalRequest, request_id)
        assert request.escalated_at == late and request.status == "sent"
        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "removal_request_overdue")))
        assert [(e.record_id, e.actor_kind) for e in events] == [(request_id, "system")]
        assert [r.id for r in overdue_requests(session, now=late)] == [request_id]
    mails = [p for p in Path(app.config["OUTBOX_DIR"]).glob("overdue-*.eml")]
    assert len(mails) == 1
    text = mails[0].read_text()
    assert "To: supervisors@hotline.example" in text and "Slowtube" in text


def test_removed_or_actioned_requests_are_not_overdue(world):
    app, db = world
    start = utcnow() - timedelta(days=3)
    removed_id = _send(app, db, "PicShare", 24, start, n_urls=2)
    actioned_id = _send(app, db, "PicShare", 24, start)
    half_id = _send(app, db, "PicShare", 24, start, n_urls=2)
    with db.session() as session:
        for url in session.get(RemovalRequest, removed_id).urls:
            url.state, url.removed_at = "removed", start + timedelta(hours=30)
        session.get(RemovalRequest, half_id).urls[0].state = "removed"
        record_reply(session, session.get(RemovalRequest, actioned_id), status="actioned",
                     now=start + timedelta(hours=2))
        session.commit()
        late = start + timedelta(hours=48)
        assert [r.id for r in overdue_requests(session, now=late)] == [half_id]
    assert raise_overdue_requests(db, app.config, now=lambda: late) == 1


def test_follow_up_quotes_the_original_and_is_sent(world):
    app, db = world
    start = utcnow() - timedelta(days=3)
    original_id = _send(app, db, "Slowtube", 24, start)
    with db.session() as session:
        original = session.get(RemovalRequest, original_id)
        follow = queue_follow_up(session, original, now=start + timedelta(hours=30))
        session.flush()
        follow_id = follow.id
        assert follow.follow_up_of_id == original_id and follow.status == "queued"
        assert follow.subject.startswith("Follow-up – deadline passed – ")
        assert original.body in follow.body
        assert original.idempotency_key in follow.body
        assert follow.idempotency_key != original.idempotency_key
        assert [u.id for u in follow.urls] == [u.id for u in original.urls]
        session.commit()
    assert send_queued_notices(db, app.config, worker="w",
                               now=lambda: start + timedelta(hours=30)) == 1
    with db.session() as session:
        follow = session.get(RemovalRequest, follow_id)
        assert follow.status == "sent"
        assert (Path(app.config["OUTBOX_DIR"]) / f"{follow.idempotency_key}.eml").is_file()
        # Follow-ups do not count in the platform's deadline record.
        [record] = deadline_records(session, now=start + timedelta(days=5))
        assert (record.due, record.missed) == (1, 1)


def test_a_request_not_sent_cannot_be_followed_up(world):
    app, db = world
    with db.session() as session:
        platform = _platform(session, "Quiet", 48)
        case = make_case(session, ["https://quiet.example/a.jpg"], now=utcnow())
        request = queue_removal_request(session, case=case, platform=platform,
                                        urls=list(case.urls), legal_basis="lcen_art6",
                                        language="fr", notifier=NOTIFIER, now=utcnow())
        with pytest.raises(NoticeError, match="only a request that was sent"):
            queue_follow_up(session, request, now=utcnow())


def test_platforms_that_routinely_miss_deadlines(world):
    app, db = world
    start = utcnow() - timedelta(days=10)
    late_ids = [_send(app, db, "Slowtube", 48, start + timedelta(hours=i)) for i in range(3)]
    prompt_ids = [_send(app, db, "PicShare", 24, start + timedelta(hours=i)) for i in range(3)]
    with db.session() as session:
        # Slowtube answered one after its deadline; PicShare acted on all within it.
        record_reply(session, session.get(RemovalRequest, late_ids[0]), status="actioned",
                     now=start + timedelta(hours=60))
        for request_id in prompt_ids:
            record_reply(session, session.get(RemovalRequest, request_id), status="actioned",
                         now=start + timedelta(hours=5))
        _send_pending = _platform(session, "Newcomer", 48)  # no request due: not listed
        assert _send_pending.id
        session.commit()
        records = {r.platform.name: r for r in deadline_records(session, now=utcnow())}
    assert set(records) == {"Slowtube", "PicShare"}
    assert (records["Slowtube"].due, records["Slowtube"].missed) == (3, 3)
    assert records["Slowtube"].overdue_now == 2 and records["Slowtube"].routinely_late
    assert (records["PicShare"].due, records["PicShare"].missed) == (3, 0)
    assert not records["PicShare"].routinely_late


def test_caseworkers_see_overdue_requests_of_their_cases_and_unassigned_ones(world):
    from disrupt.accounts.services import create_user

    app, db = world
    with db.session() as session:
        me = create_user(session, email="me@hotline.example", name="Me",
                         password="correct horse 42", role="caseworker", now=utcnow())
        other = create_user(session, email="other@hotline.example", name="Other",
                            password="correct horse 42", role="caseworker", now=utcnow())
        session.commit()
        me_id, other_id = me.id, other.id
    start = utcnow() - timedelta(days=4)
    mine = _send(app, db, "Slowtube", 24, start, assignee_id=me_id)
    unassigned = _send(app, db, "Slowtube", 24, start)
    theirs = _send(app, db, "Slowtube", 24, start, assignee_id=other_id)
    with db.session() as session:
        now = utcnow()
        assert {r.id for r in overdue_requests(session, now=now, assignee_id=me_id)} == \
            {mine, unassigned}
        assert {r.id for r in overdue_requests(session, now=now)} == {mine, unassigned, theirs}
