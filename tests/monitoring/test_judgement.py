"""The checker's judgement (issue 12, docs/verdicts.md): every picture compared, a matching
picture beats every removal rule, "removed" only with positive evidence, bounds named in
the evidence. Real HTTP servers on 127.0.0.1 (the site) and 127.0.0.2 (its CDN)."""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest

from disrupt.config import SETTINGS as CONFIG_SETTINGS
from disrupt.demo.behaviours import _BaseSite, _Handler
from disrupt.demo.seed import demo_image
from disrupt.hashing.matching import HashRecord
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.monitoring import guard
from disrupt.monitoring import rules as R
from disrupt.monitoring.checker import (
    BROWSER_USER_AGENT,
    Checker,
    CheckSettings,
    CheckTarget,
    probe_path,
)
from disrupt.monitoring.fetch import fetch
from tests.hashing.test_fetched_media import png_bomb

SETTINGS = CheckSettings(allow_loopback=True, timeout=5.0, max_bytes=300_000,
                         max_media_bytes=500_000)
GONE = (b"<html><head><title>Pics</title></head><body><h1>This image is no longer "
        b"available</h1></body></html>")


class Site(_BaseSite):
    """Routes: path -> (status, body, content type); everything else per ``fallback``."""

    def __init__(self, ip: str, fallback: tuple[int, bytes, str] = (404, b"no", "text/plain")):
        super().__init__(ip)
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.fallback = fallback
        self.requests: list[tuple[str, dict[str, str]]] = []

    def handle(self, h: _Handler, path: str) -> None:
        with self._lock:
            self.requests.append((h.requestline, dict(h.headers.items())))
        h.send(*self.routes.get(path, self.fallback))


@pytest.fixture(scope="module")
def images(case_image, other_image) -> dict[str, bytes]:
    return {"case": case_image, "other": other_image, "logo": demo_image(303),
            "ad": demo_image(404)}


@pytest.fixture
def sites():
    site, cdn = Site("127.0.0.1").start(), Site("127.0.0.2").start()
    yield site, cdn
    site.stop()
    cdn.stop()


def hashes_of(*images: bytes) -> tuple[HashRecord, ...]:
    out = []
    for i, data in enumerate(images):
        h = hash_image_bytes(data)
        out.append(HashRecord(i + 1, h["pdq"], h["pdq_quality"], h["phash"], h["sha256"]))
    return tuple(out)


def page(*imgs: str, extra: str = "", title: str = "Thread") -> tuple[int, bytes, str]:
    tags = "".join(f'<img src="{src}">' for src in imgs)
    body = (f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{tags}{extra}"
            "<p>Posted by someone, 3 replies. Quote reply report share.</p></body></html>")
    return 200, body.encode(), "text/html; charset=utf-8"


def jpeg(data: bytes) -> tuple[int, bytes, str]:
    return 200, data, "image/jpeg"


def check(target: CheckTarget, settings: CheckSettings = SETTINGS):
    hosts: list[str] = []
    outcome = Checker(settings).check(target, before_request=hosts.append)
    return outcome, hosts


def test_forum_picture_third_on_the_page_on_a_cdn_matches(sites, images):
    site, cdn = sites
    site.routes.update({"/logo.png": jpeg(images["logo"]), "/ad.jpg": jpeg(images["ad"]),
                        "/t/1": page("/logo.png", "/ad.jpg", cdn.url("/u/photo.jpg"))})
    cdn.routes["/u/photo.jpg"] = jpeg(images["case"])
    outcome, hosts = check(CheckTarget(site.url("/t/1"), hashes_of(images["case"])))
    assert (outcome.verdict, outcome.rule) == ("online", "media_match")
    assert outcome.media_url == cdn.url("/u/photo.jpg") and outcome.distance == 0
    # Each request went through the politeness hook with its own host.
    assert hosts.count("127.0.0.2") == 1 and hosts.count("127.0.0.1") >= 3


def test_matching_picture_beats_the_soft_404_and_markers(sites, images):
    site, _ = sites
    site.fallback = page("/img/logo.png", title="Pics")  # 200 with the template everywhere
    site.routes.update({"/img/logo.png": jpeg(images["logo"]),
                        "/img/v.jpg": jpeg(images["case"]),
                        "/p/1": page("/img/logo.png", "/img/v.jpg", title="Pics")})
    hashes = hashes_of(images["case"])
    live, _ = check(CheckTarget(site.url("/p/1"), hashes,
                                {"soft_404_markers": ["Quote reply report"]}))
    assert (live.verdict, live.rule) == ("online", "media_match")
    checker = Checker(SETTINGS)
    gone = checker.check(CheckTarget(site.url("/p/2"), hashes))
    assert (gone.verdict, gone.rule) == ("removed", "soft404_fingerprint")
    again = checker.check(CheckTarget(site.url("/p/1"), hashes))  # the fingerprint is cached
    assert (again.verdict, again.rule) == ("online", "media_match")


def test_another_photo_is_not_a_removal_unless_once_seen_matching(sites, images):
    site, _ = sites
    site.routes.update({"/crop.jpg": jpeg(images["other"]), "/p/9": page("/crop.jpg")})
    hashes = hashes_of(images["case"])
    first, _ = check(CheckTarget(site.url("/p/9"), hashes))
    assert (first.verdict, first.rule) == ("online", "picture_not_confirmed")
    assert "not confirmed" in first.reason and first.distance > 31
    seen, _ = check(CheckTarget(site.url("/p/9"), hashes, seen_matching=True))
    assert (seen.verdict, seen.rule) == ("removed", "media_replaced")
    site.routes["/p/10"] = page()
    empty, _ = check(CheckTarget(site.url("/p/10"), hashes, seen_matching=True))
    assert (empty.verdict, empty.rule) == ("removed", "media_replaced")
    assert "no picture" in empty.reason


def test_direct_media_url_that_now_serves_a_page_or_another_image(sites, images):
    site, _ = sites
    site.routes.update({"/i/a.jpg": (200, GONE, "text/html"), "/i/b.jpg": jpeg(images["other"])})
    hashes = hashes_of(images["case"])
    page_now, _ = check(CheckTarget(site.url("/i/a.jpg"), hashes))
    assert (page_now.verdict, page_now.rule) == ("indeterminate", "media_now_page")
    seen, _ = check(CheckTarget(site.url("/i/a.jpg"), hashes, seen_matching=True))
    assert (seen.verdict, seen.rule) == ("removed", "media_replaced")
    marked, _ = check(CheckTarget(site.url("/i/a.jpg"), hashes,
                                  {"soft_404_markers": ["no longer available"]}))
    assert (marked.verdict, marked.rule) == ("removed", "platform_marker")
    other, _ = check(CheckTarget(site.url("/i/b.jpg"), hashes))
    assert (other.verdict, other.rule) == ("online", "picture_not_confirmed")
    other_seen, _ = check(CheckTarget(site.url("/i/b.jpg"), hashes, seen_matching=True))
    assert (other_seen.verdict, other_seen.rule) == ("removed", "media_replaced")


def test_lazy_loading_srcset_and_poster_are_compared(sites, images):
    site, cdn = sites
    site.routes.update({"/s.jpg": jpeg(images["ad"]), "/poster.jpg": jpeg(images["logo"]),
                        "/g/1": page(extra=(
                            '<img src="data:image/gif;base64,R0lGOD" data-srcset="/s.jpg 320w, '
                            f'{cdn.url("/big.jpg")} 1600w"><video poster="/poster.jpg">'
                            "</video>"))})
    cdn.routes["/big.jpg"] = jpeg(images["case"])
    outcome, _ = check(CheckTarget(site.url("/g/1"), hashes_of(images["case"])))
    assert (outcome.verdict, outcome.media_url) == ("online", cdn.url("/big.jpg"))
    assert not any("/s.jpg" in line for line, _ in site.requests)  # the largest candidate only


def test_the_picture_bound_is_named_and_never_gives_removed(sites, images):
    site, _ = sites
    fillers = [f"/f/{i}.jpg" for i in range(12)]
    for path in fillers:
        site.routes[path] = jpeg(images["ad"])
    site.routes["/v.jpg"] = jpeg(images["case"])
    site.routes["/long"] = page(*fillers, "/v.jpg", extra="<p>Post removed by moderator</p>")
    hashes = hashes_of(images["case"])
    bounded, _ = check(CheckTarget(site.url("/long"), hashes))
    assert (bounded.verdict, bounded.rule) == ("indeterminate", "pictures_bound")
    assert "12 of 13" in bounded.reason and "CHECK_MAX_PICTURES" in bounded.reason
    rules = {"soft_404_markers": ["post removed by moderator"]}
    marked, _ = check(CheckTarget(site.url("/long"), hashes, rules))
    assert (marked.verdict, marked.rule) == ("indeterminate", "pictures_bound")
    seen, _ = check(CheckTarget(site.url("/long"), hashes, rules, seen_matching=True))
    assert (seen.verdict, seen.rule) == ("removed", "platform_marker")
    wider = CheckSettings(**{**SETTINGS.__dict__, "max_pictures": 13})
    found, _ = check(CheckTarget(site.url("/long"), hashes, rules), wider)
    assert (found.verdict, found.rule) == ("online", "media_match")


def test_the_deadline_bound_is_named(sites, images):
    site, _ = sites
    site.routes.update({"/v.jpg": jpeg(images["case"]), "/p": page("/v.jpg")})
    result = fetch(site.url("/p"), allow_loopback=True, user_agent=BROWSER_USER_AGENT)
    outcome = Checker(SETTINGS).judge(CheckTarget(site.url("/p"), hashes_of(images["case"])),
                                      result, deadline=time.monotonic() - 1)
    assert (outcome.verdict, outcome.rule) == ("indeterminate", "pictures_bound")
    assert "deadline" in outcome.reason and "after 0 of 1" in outcome.reason


def test_a_decompression_bomb_on_the_page_is_not_decoded(sites, images):
    site, _ = sites
    bomb = png_bomb()
    site.routes.update({"/bomb.png": (200, bomb, "image/png"), "/p": page("/bomb.png")})
    outcome, _ = check(CheckTarget(site.url("/p"), hashes_of(images["case"])))
    assert (outcome.verdict, outcome.rule) == ("indeterminate", "media_too_large")
    assert "6000x6000" in outcome.reason
    direct, _ = check(CheckTarget(site.url("/bomb.png"), hashes_of(images["case"])))
    assert (direct.verdict, direct.rule) == ("indeterminate", "media_too_large")


def test_pictures_nobody_is_shown_do_not_block_the_verdict(sites, images):
    site, _ = sites
    site.routes.update({"/icon.svg": (200, b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                                      "image/svg+xml"),
                        "/other.jpg": jpeg(images["other"]),
                        "/p": page("/icon.svg", "/missing.jpg", "http://10.0.0.1/x.jpg",
                                   "/other.jpg")})
    outcome, _ = check(CheckTarget(site.url("/p"), hashes_of(images["case"])))
    assert (outcome.verdict, outcome.rule) == ("online", "picture_not_confirmed")
    assert "1 picture(s) compared" in outcome.reason


def test_dns_failure_is_indeterminate_and_a_refusal_invalid(monkeypatch):
    def no_such_name(*args: object, **kwargs: object) -> list[str]:
        raise guard.socket.gaierror(guard.socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(guard, "_getaddrinfo", no_such_name)
    dns, _ = check(CheckTarget("http://pics.example/p/1"))
    assert (dns.verdict, dns.rule) == ("indeterminate", "network") and "dns" in dns.reason
    refused, _ = check(CheckTarget("http://10.1.2.3/p/1"))
    assert (refused.verdict, refused.rule) == ("invalid", "guard")
    malformed, _ = check(CheckTarget("http://exa mple.com/"))
    assert (malformed.verdict, malformed.rule) == ("invalid", "guard")


def test_nothing_the_checker_sends_names_it(sites, images):
    site, _ = sites
    site.routes.update({"/photos/summer-2024.html": page("/img/a.jpg"),
                        "/img/a.jpg": jpeg(images["other"])})
    settings = CheckSettings(**{**SETTINGS.__dict__, "user_agent":
                                CONFIG_SETTINGS["USER_AGENT"][0]})
    check(CheckTarget(site.url("/photos/summer-2024.html"), hashes_of(images["case"])),
          settings)
    lines = [line for line, _ in site.requests]
    assert len(lines) == 3  # page, picture, soft-404 probe
    for line, headers in site.requests:
        assert "disrupt" not in line.lower()
        assert all("disrupt" not in v.lower() for v in headers.values())
        assert headers["User-Agent"] == BROWSER_USER_AGENT
        assert headers["User-Agent"].startswith("Mozilla/5.0 (")
        assert headers["Accept"].startswith("text/html,") and headers["Accept-Language"]
    probe = next(line.split()[1] for line in lines
                 if line.split()[1] not in ("/photos/summer-2024.html", "/img/a.jpg"))
    assert re.fullmatch(r"/photos/[a-z]{6}-[0-9]{4}\.html", probe), probe


@pytest.mark.parametrize(("path", "shape"), [
    ("/p/live", r"/p/[a-z]{8}"),
    ("/watch/8812734.html", r"/watch/[1-9][0-9]{7}\.html"),
    ("/u/AbC_12.jpg", r"/u/[A-Z][a-z][A-Z]_[0-9]{2}[0-9a-z]{3}\.jpg"),
    ("/", r"/[a-z0-9]{8,10}"),
    ("/gallery/", r"/gallery/[a-z0-9]{8,10}"),
])
def test_probe_paths_look_like_the_sites_own(path: str, shape: str):
    probes = {probe_path(path) for _ in range(5)}
    assert len(probes) == 5 and path not in probes
    for probe in probes:
        assert re.fullmatch(shape, probe), probe


def test_rule_codes_and_the_decision_table_are_the_same():
    table = (Path(__file__).resolve().parents[2] / "docs" / "verdicts.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    documented = {code for row in rows for code in re.findall(r"`([a-z0-9_]+)`", row.split(
        "|")[-2])}
    assert documented == set(R.RULES)


def test_placeholder_picture_on_the_page_is_positive_evidence(sites, images):
    site, _ = sites
    site.routes.update({"/removed.png": jpeg(images["other"]), "/p": page("/removed.png")})
    digest = hashlib.sha256(images["other"]).hexdigest()
    outcome, _ = check(CheckTarget(site.url("/p"), hashes_of(images["case"]),
                                   {"placeholder_digests": [digest]}))
    assert (outcome.verdict, outcome.rule) == ("removed", "placeholder_digest")
