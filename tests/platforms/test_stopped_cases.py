"""Issue 13: once the victim withdrew or erased a case, no service sends, queues, refers,
follows up, retries or claims anything for it (disrupt/cases/rules.py), and the console
hides what it would refuse. "Overdue" means one thing everywhere
(disrupt/platforms/deadlines.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from disrupt.accounts.services import create_user
from disrupt.cases.models import Case, Referral
from disrupt.cases.rules import CaseStopped, work_refusal
from disrupt.console.queue import QueueFilter, Viewer, queue_page
from disrupt.dashboard.fold import fold_statistics
from disrupt.dashboard.services import takedown_statistics
from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform, free_port
from disrupt.platforms.deadlines import is_overdue, overdue_requests
from disrupt.platforms.jobs import send_queued_notices
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.referrals import record_referral, referral_summary
from disrupt.platforms.services import (
    NoticeError,
    add_platform,
    claim_queued_requests,
    queue_follow_up,
    queue_removal_request,
    record_delivery,
    retry_failed_request,
)
from disrupt.victims.services import erase_case, withdraw_case
from tests.platforms.support import NOTIFIER, make_case
from tests.support.apps import make_test_app
from tests.support.factories import set_url_states
from tests.support.web import CSRF_RE, login, post_form

PASSWORD = "correct horse 42"
STOPPED = ("withdrawn", "erased")


def _stop(session, case: Case, how: str, now) -> None:
    (withdraw_case if how == "withdrawn" else erase_case)(session, case, now)


def _world(db, now) -> dict[str, int]:
    """A case with three URLs on PicShare: one in a sent request, one in a failed request,
    one in no request yet."""
    with db.session() as session:
        platform = add_platform(session, name="PicShare", domains=["picshare.example"],
                                channel="email", contact="abuse@picshare.example")
        case = make_case(session, [f"https://picshare.example/{i}.jpg" for i in range(3)],
                         now=now)
        sent = queue_removal_request(session, case=case, platform=platform,
                                     urls=[case.urls[0]], legal_basis="dsa_art16",
                                     language="en", notifier=NOTIFIER, now=now)
        failed = queue_removal_request(session, case=case, platform=platform,
                                       urls=[case.urls[1]], legal_basis="dsa_art16",
                                       language="en", notifier=NOTIFIER, now=now)
        session.flush()
        sent.status, sent.sent_at, sent.deadline_at = "sent", now, now + timedelta(hours=48)
        failed.status, failed.last_error = "failed", "SMTP refused"
        session.commit()
        return {"case": case.id, "platform": platform.id, "sent": sent.id,
                "failed": failed.id, "free_url": case.urls[2].id}


def _snapshot(session) -> list[tuple]:
    requests = session.execute(select(RemovalRequest.id, RemovalRequest.status,
                                      RemovalRequest.attempts, RemovalRequest.sent_at)
                               .order_by(RemovalRequest.id)).all()
    return [*map(tuple, requests), session.scalar(select(func.count()).select_from(Referral))]


@pytest.mark.parametrize("how", STOPPED)
def test_every_action_is_refused_on_a_stopped_case(db, app, how):
    now = utcnow()
    ids = _world(db, now)
    with db.session() as session:
        _stop(session, session.get(Case, ids["case"]), how, now)
        session.commit()
    later = now + timedelta(hours=60)
    with db.session() as session:
        case = session.get(Case, ids["case"])
        before = _snapshot(session)
        reason = work_refusal(case)
        assert reason == f"The victim has {how} this case: no more work may be done on it."
        platform = session.get(RemovalRequest, ids["sent"]).platform
        free = [u for u in case.urls if u.id == ids["free_url"]]
        attempts = [
            (NoticeError, lambda: queue_removal_request(
                session, case=case, platform=platform, urls=free, legal_basis="dsa_art16",
                language="en", notifier=NOTIFIER, now=later)),
            (NoticeError, lambda: queue_follow_up(
                session, session.get(RemovalRequest, ids["sent"]), now=later)),
            (NoticeError, lambda: retry_failed_request(
                session, session.get(RemovalRequest, ids["failed"]), now=later)),
            (CaseStopped, lambda: referral_summary(session, case, notifier=NOTIFIER,
                                                   language="fr", now=later)),
            (CaseStopped, lambda: record_referral(session, case, recipient="pharos",
                                                  summary="a summary", now=later)),
        ]
        for error, attempt in attempts:
            with pytest.raises(error) as refused:
                attempt()
            assert str(refused.value) == reason
        session.flush()
        assert _snapshot(session) == before
        assert claim_queued_requests(session, worker="w", now=later,
                                     lease=timedelta(minutes=5)) == []
        session.commit()
    assert send_queued_notices(db, app.config, worker="w", now=lambda: later) == 0
    with db.session() as session:
        assert _snapshot(session) == before
        assert not list(session.scalars(select(RemovalRequest).where(
            RemovalRequest.status == "queued")))


@pytest.mark.parametrize("how", STOPPED)
def test_claim_skips_and_cancels_a_request_the_listener_missed(db, how):
    """A request queued in a transaction that raced the withdrawal (or a process without
    the listener): the status of the case alone keeps it from being claimed."""
    now = utcnow()
    with db.session() as session:
        platform = add_platform(session, name="PicShare", domains=["picshare.example"],
                                channel="email", contact="abuse@picshare.example")
        stopped = make_case(session, ["https://picshare.example/a.jpg"], now=now)
        working = make_case(session, ["https://picshare.example/b.jpg"], now=now)
        ids = []
        for case in (stopped, working):
            request = queue_removal_request(session, case=case, platform=platform,
                                            urls=list(case.urls), legal_basis="dsa_art16",
                                            language="en", notifier=NOTIFIER, now=now)
            session.flush()
            ids.append(request.id)
        session.execute(update(Case).where(Case.id == stopped.id).values(status=how))
        session.commit()
    with db.session() as session:
        claimed = claim_queued_requests(session, worker="w", now=now,
                                        lease=timedelta(minutes=5))
        session.commit()
    assert claimed == [ids[1]]
    with db.session() as session:
        cancelled = session.get(RemovalRequest, ids[0])
        assert (cancelled.status, cancelled.lease_owner, cancelled.next_attempt_at) == \
            ("failed", None, None)
        assert cancelled.last_error == ("withdrawn by the victim" if how == "withdrawn"
                                        else "case erased")


@pytest.mark.parametrize("via_listener", [True, False], ids=["listener", "status-only"])
def test_queued_then_withdrawn_then_worker_sends_nothing(database_url, tmp_path,
                                                         via_listener):
    picshare = SimulatedPlatform("PicShare", ip="127.0.0.2", takedown_after=None).start()
    mailbox = NoticeMailbox(port=free_port())
    address = mailbox.register("abuse@picshare.test", picshare)
    mailbox.start()
    try:
        app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp",
                            SMTP_PORT=mailbox.port, SEND_TIMEOUT_SECONDS=5.0)
        db = app.extensions["disrupt.db"]
        now = utcnow()
        urls = [picshare.host_media(f"/p/{i}.jpg", b"x") for i in range(2)]
        with db.session() as session:
            platform = add_platform(session, name="PicShare", domains=["127.0.0.2"],
                                    channel="email", contact=address)
            withdrawn = make_case(session, [urls[0]], now=now)
            working = make_case(session, [urls[1]], now=now)
            for case in (withdrawn, working):
                queue_removal_request(session, case=case, platform=platform,
                                      urls=list(case.urls), legal_basis="dsa_art16",
                                      language="en", notifier=NOTIFIER, now=now)
            session.commit()
            withdrawn_id = withdrawn.id
        with db.session() as session:  # six seconds later, the victim withdraws
            case = session.get(Case, withdrawn_id)
            if via_listener:
                withdraw_case(session, case, now + timedelta(seconds=6))
            else:
                case.status = "withdrawn"
            session.commit()
        later = now + timedelta(seconds=10)
        assert send_queued_notices(db, app.config, worker="w", now=lambda: later) == 1
    finally:
        mailbox.stop()
        picshare.stop()
    assert [n.urls for n in picshare.notices] == [[urls[1]]]
    assert len(mailbox.messages) == 1
    with db.session() as session:
        request = session.scalar(select(RemovalRequest).where(
            RemovalRequest.case_id == withdrawn_id))
        assert (request.status, request.sent_at, request.last_error) == \
            ("failed", None, "withdrawn by the victim")


# --- the console ------------------------------------------------------------------------------

def _console(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, ORGANISATION_NAME="Test hotline",
                        ORGANISATION_EMAIL="notices@hotline.example")
    db = app.extensions["disrupt.db"]
    with db.session() as session:
        create_user(session, email="caseworker@hotline.example", name="Caseworker",
                    password=PASSWORD, role="caseworker", now=utcnow())
        session.commit()
    client = app.test_client()
    login(client, "caseworker@hotline.example", PASSWORD)
    return app, db, client


def _routes(ids: dict[str, int]) -> dict[str, tuple[str, dict]]:
    p = f"p{ids['platform']}"
    case, platform = ids["case"], ids["platform"]
    return {
        "send": (f"/console/cases/{case}/platforms/{platform}/requests",
                 {f"{p}-url_ids": [ids["free_url"]], f"{p}-legal_basis": "dsa_art16",
                  f"{p}-language": "en"}),
        "notice": (f"/console/cases/{case}/platforms/{platform}/notice",
                   {f"{p}-url_ids": [ids["free_url"]], f"{p}-legal_basis": "dsa_art16",
                    f"{p}-language": "en", "action": "queue"}),
        "follow-up": (f"/console/requests/{ids['sent']}/follow-up", {}),
        "retry": (f"/console/requests/{ids['failed']}/retry", {}),
        "refer": (f"/console/cases/{case}/referral",
                  {"recipient": "pharos", "language": "fr", "summary": "a summary",
                   "their_reference": "", "hotline_name": ""}),
    }


def test_console_shows_the_buttons_on_a_case_being_worked(database_url, tmp_path):
    """The other half of the next test: the same page, before the victim withdrew."""
    app, db, client = _console(database_url, tmp_path)
    ids = _world(db, utcnow())
    case_page = client.get(f"/console/cases/{ids['case']}").get_data(as_text=True)
    assert "Send removal request to PicShare" in case_page
    assert f"/console/cases/{ids['case']}/referral" in case_page
    assert 'id="work-refused"' not in case_page
    assert "Send a follow-up notice" in client.get(
        f"/console/requests/{ids['sent']}").get_data(as_text=True)
    assert "Retry sending" in client.get(
        f"/console/requests/{ids['failed']}").get_data(as_text=True)


def test_console_hides_and_refuses_every_action_on_a_withdrawn_case(database_url, tmp_path):
    app, db, client = _console(database_url, tmp_path)
    now = utcnow()
    ids = _world(db, now)
    with db.session() as session:
        withdraw_case(session, session.get(Case, ids["case"]), now)
        session.commit()
    reason = "The victim has withdrawn this case: no more work may be done on it."
    case_path = f"/console/cases/{ids['case']}"
    case_page = client.get(case_path).get_data(as_text=True)
    assert reason in case_page
    assert "Send removal request to" not in case_page
    assert f"{case_path}/referral" not in case_page
    sent_page = client.get(f"/console/requests/{ids['sent']}").get_data(as_text=True)
    failed_page = client.get(f"/console/requests/{ids['failed']}").get_data(as_text=True)
    assert "Send a follow-up notice" not in sent_page and reason in sent_page
    assert "Retry sending" not in failed_page and reason in failed_page
    referral_page = client.get(f"{case_path}/referral").get_data(as_text=True)
    assert reason in referral_page and 'name="summary"' not in referral_page
    notice_page = client.get(f"{case_path}/platforms/{ids['platform']}/notice")
    assert reason in notice_page.get_data(as_text=True)
    assert 'value="queue"' not in notice_page.get_data(as_text=True)
    with db.session() as session:
        before = _snapshot(session)
    flashes = {"send": "Not sent: ", "notice": "Not queued: ", "follow-up": "No follow-up: ",
               "retry": "Not retried: ", "refer": "No referral: "}
    for name, (path, data) in _routes(ids).items():
        response = post_form(client, path, data, token_from=case_path)
        if name == "notice":  # the form page answers itself, the entries kept
            assert response.status_code == 400, name
            html = response.get_data(as_text=True)
            assert flashes[name] + reason in html and '<option selected value="dsa_art16">' in html
        else:
            assert response.status_code == 302, name
            html = client.get(response.location).get_data(as_text=True)
            assert flashes[name] + reason in html, name
        with db.session() as session:
            assert _snapshot(session) == before, name


def test_console_has_no_page_of_an_erased_case(database_url, tmp_path):
    app, db, client = _console(database_url, tmp_path)
    now = utcnow()
    ids = _world(db, now)
    token_page = f"/console/cases/{ids['case']}"
    token = client.get(token_page)
    assert token.status_code == 200
    match = CSRF_RE.search(token.get_data(as_text=True))
    csrf = match.group(1) or match.group(2)
    with db.session() as session:
        erase_case(session, session.get(Case, ids["case"]), now)
        session.commit()
    for path in (token_page, f"{token_page}/referral", f"/console/requests/{ids['sent']}",
                 f"{token_page}/platforms/{ids['platform']}/notice"):
        assert client.get(path).status_code == 404, path
    with db.session() as session:
        before = _snapshot(session)
    for name, (path, data) in _routes(ids).items():
        assert client.post(path, data={**data, "csrf_token": csrf}).status_code == 404, name
    with db.session() as session:
        assert _snapshot(session) == before


# --- overdue, one definition ------------------------------------------------------------------

def test_overdue_is_the_same_everywhere(database_url, tmp_path):
    app, db, client = _console(database_url, tmp_path)
    now = utcnow()
    sent_at = now - timedelta(hours=60)  # a 48 h deadline, passed 12 h ago
    with db.session() as session:
        platform = add_platform(session, name="PicShare", domains=["picshare.example"],
                                channel="email", contact="abuse@picshare.example")
        cases, requests = {}, {}
        for name in ("removed", "online", "withdrawn"):
            case = make_case(session, [f"https://picshare.example/{name}/{i}.jpg"
                                       for i in range(2)], now=sent_at)
            request = queue_removal_request(session, case=case, platform=platform,
                                            urls=list(case.urls), legal_basis="dsa_art16",
                                            language="en", notifier=NOTIFIER, now=sent_at)
            request.lease_owner = "w"
            assert record_delivery(session, request, worker="w", now=sent_at)
            set_url_states(session, {url: "removed" if name == "removed" or i == 0
                                     else "online" for i, url in enumerate(case.urls)},
                           now=sent_at)
            cases[name], requests[name] = case, request
        session.flush()
        withdraw_case(session, cases["withdrawn"], now)
        session.commit()
        ids = {name: (c.id, requests[name].id) for name, c in cases.items()}
    expected = {"removed": False, "online": True, "withdrawn": False}
    with db.session() as session:
        for name, (case_id, request_id) in ids.items():
            request = session.get(RemovalRequest, request_id)
            assert is_overdue(request, session.get(Case, case_id), now) is expected[name]
        listed = {r.id for r in overdue_requests(session, now=now)}
        assert listed == {ids["online"][1]}
        viewer = Viewer(user_id=0, sees_all=True)
        page = queue_page(session, QueueFilter(status="any"), viewer, now)
        flags = {row.case.id: row.overdue for row in page.rows}
        assert {name: flags[case_id] for name, (case_id, _) in ids.items()} == expected
        assert page.counts["overdue"] == 1
        only = queue_page(session, QueueFilter(status="any", overdue=True), viewer, now)
        assert [row.case.id for row in only.rows] == [ids["online"][0]]
        while fold_statistics(session, confirm_after=timedelta(hours=1)):
            pass
        session.commit()
        # The dashboard counts URLs: the removed request's URLs are not online (0), the
        # other request has one URL online. (A withdrawn case's URLs still count there:
        # README "Withdrawn and erased cases".)
        stats = takedown_statistics(session, now=now)
        online = {row["request_id"]: row["urls_online"] for row in stats["overdue_requests"]}
        assert online.get(ids["online"][1]) == 1 and ids["removed"][1] not in online
    attention = client.get("/console/requests/").get_data(as_text=True)
    for name, (_, request_id) in ids.items():
        page = client.get(f"/console/requests/{request_id}").get_data(as_text=True)
        assert ("<strong>overdue</strong>" in page) is expected[name], name
        assert (f'href="/console/requests/{request_id}"' in attention) is expected[name], name
