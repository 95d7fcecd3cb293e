"""Every behaviour of a platform (one route each, real HTTP on 127.0.0.1) gets the right
verdict, and the URL the right state after the right number of checks (time is passed in)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.cases.models import Case, ReportedURL
from disrupt.demo.behaviours import BehaviourServer, SoftNotFoundServer
from disrupt.monitoring.jobs import run_due_checks
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import Platform, PlatformDomain
from tests.support.apps import monitor_config
from tests.support.factories import make_case

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# path -> (verdict, rule, state after the first check)
FIRST = {
    "/media/ok.jpg": ("online", "media_match", "online"),
    "/media/404.jpg": ("removed", "status_removed", "removal_suspected"),
    "/media/410.jpg": ("removed", "status_removed", "removal_suspected"),
    "/media/451.jpg": ("restricted", "status_restricted", "restricted"),
    # Another picture, never seen matching: not a removal (issue 12), a caseworker verifies.
    "/media/placeholder-redirect.jpg": ("online", "picture_not_confirmed", "online"),
    "/media/login-redirect.jpg": ("indeterminate", "login_wall", "indeterminate"),
    "/media/401.jpg": ("indeterminate", "status_inconclusive", "indeterminate"),
    "/media/403.jpg": ("indeterminate", "status_inconclusive", "indeterminate"),
    "/media/429.jpg": ("indeterminate", "status_inconclusive", "indeterminate"),
    "/media/503.jpg": ("indeterminate", "status_inconclusive", "indeterminate"),
    "/media/slow.jpg": ("indeterminate", "network", "indeterminate"),
    "/media/reset.jpg": ("indeterminate", "network", "indeterminate"),
    "/media/endless.jpg": ("indeterminate", "media_too_large", "indeterminate"),
    "/media/loop.jpg": ("indeterminate", "network", "indeterminate"),
    "/media/private.jpg": ("invalid", "guard", "invalid"),
    "/media/undecodable.jpg": ("indeterminate", "media_unreadable", "indeterminate"),
    "/page/ok": ("online", "media_match", "online"),
    "/page/replaced": ("online", "picture_not_confirmed", "online"),
    "/page/marker": ("removed", "platform_marker", "removal_suspected"),
    "/page/captcha": ("indeterminate", "captcha", "indeterminate"),
    "/page/endless": ("indeterminate", "page_truncated", "indeterminate"),
    "/page/broken-image": ("indeterminate", "media_unreadable", "indeterminate"),
    "soft:/p/live": ("online", "media_match", "online"),
    "soft:/p/gone-photo": ("removed", "soft404_fingerprint", "removal_suspected"),
    "direct:http://10.0.0.1/photo.jpg": ("invalid", "guard", "invalid"),
}
# state after the second round, 1 h 1 min later (removals confirmed; 429 not due yet)
SECOND = {
    "/media/404.jpg": "removed", "/media/410.jpg": "removed",
    "/media/placeholder-redirect.jpg": "online", "/page/replaced": "online",
    "/page/marker": "removed", "soft:/p/gone-photo": "removed",
    "/media/ok.jpg": "online", "/page/ok": "online", "soft:/p/live": "online",
    "/media/503.jpg": "indeterminate", "/media/451.jpg": "restricted",
}


#: Every path the sites serve or redirect to; any other request is a soft-404 probe.
KNOWN_PATHS = set(BehaviourServer.ROUTES) | {
    "/img/case.jpg", "/img/other.jpg", "/img/broken.jpg", "/static/removed.jpg",
    "/static/logo.png", "/accounts/login", "/media/loop-2.jpg", "/p/live", "/p/gone-photo",
    "/img/live.jpg"}


@pytest.fixture(scope="module")
def sites(case_image, other_image):
    main = BehaviourServer(case_image, other_image, slow_seconds=3.0).start()
    soft = SoftNotFoundServer(case_image).start()
    yield main, soft
    main.stop()
    soft.stop()


def _url(key: str, main, soft) -> str:
    if key.startswith("soft:"):
        return soft.url(key[5:])
    if key.startswith("direct:"):
        return key[7:]
    return main.url(key)


def test_behaviour_table(mdb, sites, case_image):
    main, soft = sites
    config = monitor_config()
    urls = {key: _url(key, main, soft) for key in FIRST}
    hits_before = len(main.hits) + len(soft.hits)
    with mdb.session() as session:
        platform = Platform(name="Behaviours", removal_rules={
            "soft_404_markers": ["This content isn't available right now"]})
        platform.domains = [PlatformDomain(domain="127.0.0.1")]
        session.add(platform)
        session.flush()
        make_case(session, urls=list(urls.values()), now=T0, images=[case_image],
                  platform_id=platform.id)
        session.commit()

    first = T0 + timedelta(seconds=1)
    assert run_due_checks(mdb, config, worker="w1", now=lambda: first) == len(FIRST)
    with mdb.session() as session:
        by_url = {u.url: u for u in session.scalars(select(ReportedURL))}
        checks = {c.reported_url_id: c for c in session.scalars(select(URLCheck))}
    got = {key: (checks[by_url[u].id].verdict, checks[by_url[u].id].rule, by_url[u].state)
           for key, u in urls.items()}
    assert got == FIRST

    def url_of(key: str) -> ReportedURL:
        return by_url[urls[key]]

    def check_of(key: str) -> URLCheck:
        return checks[url_of(key).id]

    # Evidence.
    assert check_of("/media/ok.jpg").distance == 0 and check_of("/media/ok.jpg").media_digest
    replaced = check_of("/page/replaced")
    assert replaced.distance > 31 and replaced.media_url == main.url("/img/other.jpg")
    redirect = check_of("/media/placeholder-redirect.jpg")
    assert redirect.redirect_chain == [[main.url("/media/placeholder-redirect.jpg"), 302]]
    assert redirect.final_url == main.url("/static/removed.jpg")
    assert check_of("/media/endless.jpg").truncated
    assert check_of("/media/endless.jpg").body_digest is None
    assert check_of("/media/429.jpg").retry_after_seconds == 7200
    assert "timeout" in check_of("/media/slow.jpg").reason
    assert "redirect" in check_of("/media/loop.jpg").reason
    assert check_of("/media/404.jpg").http_status == 404
    assert all(c.detector_version and c.elapsed_ms is not None for c in checks.values())
    # Refused by the guard: invalid with the reason, never checked again.
    private = url_of("/media/private.jpg")
    assert "private_address" in private.state_reason and private.next_check_at is None
    assert "private_address" in url_of("direct:http://10.0.0.1/photo.jpg").state_reason
    # Schedule: Retry-After beats the 15-minute backoff; removals re-checked an hour later.
    assert url_of("/media/429.jpg").next_check_at == first + timedelta(seconds=7200)
    assert url_of("/media/503.jpg").next_check_at == first + timedelta(minutes=15)
    assert url_of("/media/404.jpg").next_check_at == first + timedelta(hours=1)
    assert url_of("/media/ok.jpg").next_check_at == T0 + timedelta(hours=1)

    second = T0 + timedelta(hours=1, minutes=1)
    run_due_checks(mdb, config, worker="w1", now=lambda: second)
    with mdb.session() as session:
        states = {u.url: u for u in session.scalars(select(ReportedURL))}
        counts = {u.url: u.check_count for u in states.values()}
    assert {key: states[urls[key]].state for key in SECOND} == SECOND
    assert counts[urls["/media/429.jpg"]] == 1 and counts[urls["/media/404.jpg"]] == 2
    assert counts[urls["/media/private.jpg"]] == 1
    removed = states[urls["/media/404.jpg"]]
    assert removed.removed_at == first  # the first removal verdict
    assert states[urls["/media/503.jpg"]].indeterminate_streak == 2
    assert states[urls["/media/503.jpg"]].next_check_at == second + timedelta(minutes=30)
    # One probe per site for the soft-404 fingerprint, shared through the database.
    hits = sorted(main.hits + soft.hits)[hits_before:]
    probes = [path for _, path in hits if path not in KNOWN_PATHS]
    assert len(probes) == 2
    assert all("disrupt" not in path for path in probes)


def test_reappearance_is_flagged_and_reopens_the_case(mdb, sites, case_image):
    main, _soft = sites
    config = monitor_config()
    path = "/media/ok.jpg?reupload=1"
    url = main.url(path)
    main.gone.add("/media/ok.jpg")
    try:
        with mdb.session() as session:
            case = make_case(session, urls=[url], now=T0, images=[case_image], status="closed")
            session.commit()
            case_id = case.id
        t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(hours=1, seconds=1)
        assert run_due_checks(mdb, config, worker="w", now=lambda: t1) == 1
        assert run_due_checks(mdb, config, worker="w", now=lambda: t2) == 1
        with mdb.session() as session:
            reported = session.scalar(select(ReportedURL))
            assert reported.state == "removed" and not reported.reappeared
            next_due = reported.next_check_at
        assert next_due == t1 + timedelta(days=1)  # after removal: +1 d
    finally:
        main.gone.discard("/media/ok.jpg")
    t3 = next_due + timedelta(seconds=1)
    assert run_due_checks(mdb, config, worker="w", now=lambda: t3) == 1
    with mdb.session() as session:
        reported = session.scalar(select(ReportedURL))
        assert reported.state == "online" and reported.reappeared
        assert reported.reappeared_at == t3
        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "url_reappeared")))
        assert [(e.record_type, e.record_id, e.actor_kind) for e in events] == [
            ("reported_urls", reported.id, "system")]
        assert session.get(Case, case_id).status == "in_progress"
