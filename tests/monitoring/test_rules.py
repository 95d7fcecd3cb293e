"""Verdict rules without a database: platform rules, soft 404, media comparison, Retry-After,
the state machine and the schedule."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from disrupt.demo.behaviours import SOFT_404_PAGE, BehaviourServer, SoftNotFoundServer
from disrupt.hashing.matching import HashRecord
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.monitoring import rules as R
from disrupt.monitoring.checker import (
    Checker,
    CheckSettings,
    CheckTarget,
    compare_media,
    retry_after,
)
from disrupt.monitoring.schedule import next_check_at
from disrupt.monitoring.states import apply_verdict

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = CheckSettings(allow_loopback=True, timeout=2.0, max_bytes=300_000,
                         max_media_bytes=300_000)


def _hashes(*images: bytes) -> tuple[HashRecord, ...]:
    out = []
    for i, data in enumerate(images):
        h = hash_image_bytes(data)
        out.append(HashRecord(i + 1, h["pdq"], h["pdq_quality"], h["phash"], h["sha256"]))
    return tuple(out)


@pytest.fixture(scope="module")
def site(case_image, other_image):
    server = BehaviourServer(case_image, other_image).start()
    yield server
    server.stop()


def test_platform_placeholder_rules(site, case_image, other_image):
    checker = Checker(SETTINGS)
    url = site.url("/media/placeholder-redirect.jpg")
    by_redirect = checker.check(CheckTarget(url, _hashes(case_image), {
        "placeholder_redirects": [site.url("/static/removed")]}))
    assert (by_redirect.verdict, by_redirect.rule) == ("removed", "placeholder_url")
    digest = hashlib.sha256(other_image).hexdigest()
    by_digest = checker.check(CheckTarget(url, (), {"placeholder_digests": [digest.upper()]}))
    assert (by_digest.verdict, by_digest.rule) == ("removed", "placeholder_digest")
    # The page whose main picture is the placeholder.
    page = checker.check(CheckTarget(site.url("/page/replaced"), _hashes(case_image),
                                     {"placeholder_digests": [digest]}))
    assert (page.verdict, page.rule) == ("removed", "placeholder_digest")
    # Without hashes and without rules a served picture proves only that it is online.
    plain = checker.check(CheckTarget(url))
    assert (plain.verdict, plain.rule) == ("online", "media_served")


def test_loopback_needs_the_setting(site):
    refused = Checker(CheckSettings(allow_loopback=False)).check(
        CheckTarget(site.url("/media/ok.jpg")))
    assert refused.verdict == "invalid" and "loopback" in refused.reason


def test_soft_404_site(case_image):
    soft = SoftNotFoundServer(case_image).start()
    try:
        checker = Checker(SETTINGS)
        hashes = _hashes(case_image)
        gone = checker.check(CheckTarget(soft.url("/p/summer-2024"), hashes))
        assert (gone.verdict, gone.rule) == ("removed", "soft404_fingerprint")
        live = checker.check(CheckTarget(soft.url("/p/live"), hashes))
        assert (live.verdict, live.rule) == ("online", "media_match")
        # A real page without hashes to compare passes the fingerprint.
        soft.pages["/p/text"] = (b"<html><title>PicShare</title><body><h1>Holiday notes</h1>"
                                 b"<p>We walked along the coast for three days and slept in "
                                 b"small villages with friendly hosts.</p></body></html>")
        text = checker.check(CheckTarget(soft.url("/p/text")))
        assert (text.verdict, text.rule) == ("online", "page_passes")
        known = {"/p/summer-2024", "/p/live", "/p/text", "/img/live.jpg"}
        probes = [p for _, p in soft.hits if p not in known]
        assert len(probes) == 1  # cached per site
        # The probe looks like the site's own path: same folder, a slug of the same shape.
        assert re.fullmatch(r"/p/[a-z0-9]{6}-[0-9]{4}", probes[0]), probes[0]
        assert "disrupt" not in probes[0] and probes[0] != "/p/summer-2024"
    finally:
        soft.stop()


def test_fingerprint_ignores_the_echoed_path():
    a = R.fingerprint("http://x/p/a", False, SOFT_404_PAGE % b"/p/abc-123", "http://x/p/abc-123")
    b = R.fingerprint("http://x/p/q", False, SOFT_404_PAGE % b"/p/zzz-999", "http://x/p/zzz-999")
    assert a.text_digest == b.text_digest and R.same_as_probe(a, b)
    other = R.fingerprint("http://x/p/q", False, b"<p>" + b"a real page with words " * 5,
                          "http://x/p/q")
    assert R.same_as_probe(other, b) is None


def test_compare_media(case_image, other_image):
    hashes = _hashes(case_image)
    assert compare_media(case_image, False, hashes).verdict == "match"
    assert compare_media(other_image, False, hashes).verdict == "replaced"
    assert compare_media(b"\xff\xd8\xff garbage", False, hashes).verdict == "unreadable"
    assert compare_media(case_image[:1000], True, hashes).verdict == "too_large"
    # A re-encoded copy still matches by PDQ.
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.open(BytesIO(case_image)).resize((300, 225)).save(out, "JPEG", quality=60)
    match = compare_media(out.getvalue(), False, hashes)
    assert match.verdict == "match" and 0 < match.distance <= 31


def test_retry_after_forms():
    assert retry_after({"retry-after": "120"}) == timedelta(seconds=120)
    assert retry_after({"retry-after": "99999999"}) == timedelta(days=7)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    date = "Mon, 02 Mar 2026 11:00:00 GMT"
    assert retry_after({"retry-after": date}, now) == timedelta(hours=2)
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None


def _url(state: str = "pending") -> SimpleNamespace:
    return SimpleNamespace(state=state, check_count=0, last_checked_at=None, state_reason=None,
                           indeterminate_streak=0, last_seen_online_at=None,
                           first_seen_online_at=None, removal_suspected_at=None,
                           removed_at=None, reappeared=False, reappeared_at=None,
                           picture_confirmed_at=None, network_failing_since=None)


def test_removal_needs_a_second_verdict_an_hour_later():
    hour = timedelta(hours=1)
    url = _url()
    assert apply_verdict(url, "online", now=T0, confirm_after=hour, reason="") == "online"
    t1 = T0 + timedelta(hours=2)
    apply_verdict(url, "removed", now=t1, confirm_after=hour, reason="404")
    assert url.state == "removal_suspected"
    apply_verdict(url, "removed", now=t1 + timedelta(minutes=59), confirm_after=hour, reason="")
    assert url.state == "removal_suspected"  # too soon
    apply_verdict(url, "indeterminate", now=t1 + timedelta(minutes=70), confirm_after=hour,
                  reason="503")
    assert url.state == "removal_suspected"  # proves nothing either way
    assert apply_verdict(url, "removed", now=t1 + hour, confirm_after=hour,
                         reason="") == "removed"
    assert url.state == "removed" and url.removed_at == t1
    # Suspected, then online again: back to online, never removed.
    other = _url("online")
    apply_verdict(other, "removed", now=t1, confirm_after=hour, reason="")
    apply_verdict(other, "online", now=t1 + hour, confirm_after=hour, reason="")
    assert other.state == "online" and other.removed_at is None and not other.reappeared


def test_schedule_ladders_and_backoff():
    hour, day = timedelta(hours=1), timedelta(days=1)

    def due(state, now, streak=0, removed_at=None, retry=None):
        return next_check_at(state=state, reported_at=T0, removed_at=removed_at, now=now,
                             indeterminate_streak=streak, confirm_after=hour, retry_after=retry)

    assert due("online", T0) == T0 + hour
    assert due("online", T0 + hour) == T0 + 6 * hour
    assert due("online", T0 + 6 * hour) == T0 + day
    assert due("online", T0 + 14 * day) == T0 + 21 * day  # weekly after day 14
    assert due("removal_suspected", T0 + hour) == T0 + 2 * hour
    assert due("removed", T0 + day, removed_at=T0) == T0 + 7 * day
    assert due("removed", T0 + 7 * day, removed_at=T0) == T0 + 30 * day
    assert due("removed", T0 + 30 * day, removed_at=T0) == T0 + 60 * day  # monthly
    assert due("indeterminate", T0, streak=1) == T0 + timedelta(minutes=15)
    assert due("indeterminate", T0, streak=3) == T0 + timedelta(minutes=60)
    assert due("indeterminate", T0, streak=20) == T0 + day
    assert due("online", T0, streak=1, retry=timedelta(hours=3)) == T0 + 3 * hour
    assert due("invalid", T0) is None


def test_network_failures_are_indeterminate_until_they_last_for_days():
    hour, week = timedelta(hours=1), timedelta(days=7)
    url = _url()
    for day in range(7):  # a week of DNS failures, a check a day: never invalid yet
        verdict = apply_verdict(url, "indeterminate", now=T0 + timedelta(days=day),
                                confirm_after=hour, reason="dns: no such name",
                                rule="network", invalid_after=week)
        assert verdict == "indeterminate" and url.state == "indeterminate"
    assert url.network_failing_since == T0
    # One answer in between starts the count again.
    apply_verdict(url, "online", now=T0 + timedelta(days=6, hours=12), confirm_after=hour,
                  reason="", rule="page_passes", invalid_after=week)
    assert url.network_failing_since is None
    apply_verdict(url, "indeterminate", now=T0 + timedelta(days=7), confirm_after=hour,
                  reason="timeout", rule="network", invalid_after=week)
    assert url.state == "online" and url.network_failing_since == T0 + timedelta(days=7)
    # Failures for a whole week without a break: no longer checked, and the reason says why.
    apply_verdict(url, "indeterminate", now=T0 + timedelta(days=14), confirm_after=hour,
                  reason="timeout", rule="network", invalid_after=week)
    assert url.state == "invalid" and "network failures since" in url.state_reason
    assert next_check_at(state=url.state, reported_at=T0, removed_at=None,
                         now=T0 + timedelta(days=14), indeterminate_streak=2,
                         confirm_after=hour) is None


def test_the_first_match_is_remembered():
    url = _url()
    apply_verdict(url, "online", now=T0, confirm_after=timedelta(hours=1), reason="",
                  rule="picture_not_confirmed")
    assert url.picture_confirmed_at is None
    apply_verdict(url, "online", now=T0 + timedelta(hours=1), confirm_after=timedelta(hours=1),
                  reason="", rule="media_match")
    apply_verdict(url, "online", now=T0 + timedelta(hours=2), confirm_after=timedelta(hours=1),
                  reason="", rule="media_match")
    assert url.picture_confirmed_at == T0 + timedelta(hours=1)
