"""One check of one URL: fetch it through the network guard and give a verdict with its
evidence (DESIGN.md §6).

The decision table is docs/verdicts.md. In short, for a 2xx answer: placeholder URL or
digest (platform rules) → login / age-gate / captcha (indeterminate) → every picture the
page shows, in page order, compared with the case's hashes (a match is ``online``,
whatever else the page says) → removal evidence (platform marker, the host's soft-404
fingerprint, a placeholder picture, a picture once seen matching now gone) → ``online``
with the picture not confirmed. Only what proves removal counts as removed; a mismatch
alone never does unless the URL was once seen matching.
"""
from __future__ import annotations

import email.utils
import hashlib
import secrets
import string
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from disrupt.hashing.matching import PDQ_MIN_QUALITY, HashRecord, match_media
from disrupt.hashing.pipeline import (
    MediaTooLarge,
    UnsupportedMedia,
    hash_fetched_image,
    sniff_kind,
)
from disrupt.monitoring import rules as R
from disrupt.monitoring.fetch import FetchResult, fetch, shared_transport
from disrupt.monitoring.page import Page, read_page
from disrupt.monitoring.wire import WireTransport

#: Changes when a rule that can say "removed" changes: stored removals from an older
#: version are verified again (issue 12: media_replaced, soft404_fingerprint and
#: platform_marker now wait for the pictures to be compared).
DETECTOR_VERSION = "rules-3"
#: An ordinary browser's User-Agent (the USER_AGENT setting's default).
BROWSER_USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36")
MAX_RETRY_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class CheckSettings:
    allow_loopback: bool = False
    timeout: float = 15.0
    max_bytes: int = 5_000_000
    max_media_bytes: int = 10_000_000
    max_redirects: int = 5
    user_agent: str = BROWSER_USER_AGENT
    probe_ttl: timedelta = timedelta(days=1)
    max_pictures: int = 12
    max_media_pixels: int = 8_000_000
    deadline: float = 60.0

    @classmethod
    def from_config(cls, config: Any) -> CheckSettings:
        return cls(
            allow_loopback=bool(config["ALLOW_LOOPBACK"]),
            timeout=float(config["CHECK_TIMEOUT"]),
            max_bytes=int(config["CHECK_MAX_BYTES"]),
            max_media_bytes=int(config["CHECK_MAX_MEDIA_BYTES"]),
            max_redirects=int(config["CHECK_MAX_REDIRECTS"]),
            user_agent=config["USER_AGENT"],
            probe_ttl=timedelta(seconds=float(config["SOFT404_PROBE_TTL_SECONDS"])),
            max_pictures=max(1, int(config["CHECK_MAX_PICTURES"])),
            max_media_pixels=max(1, int(config["CHECK_MAX_MEDIA_PIXELS"])),
            deadline=float(config["CHECK_DEADLINE_SECONDS"]),
        )


@dataclass(frozen=True)
class CheckTarget:
    """A URL and what the checker compares it with: the case's active hashes and the
    platform's removal rules (both may be empty). ``seen_matching``: this URL was once
    seen showing a picture that matched the case's hashes; without it, pictures that do
    not match never make a removal (the victim may have hashed another version)."""

    url: str
    hashes: tuple[HashRecord, ...] = ()
    rules: dict[str, Any] = field(default_factory=dict)
    seen_matching: bool = False
    #: A check (or a caseworker) once saw the case's picture on this URL.
    seen_matching: bool = False


@dataclass
class CheckOutcome:
    verdict: str
    reason: str
    http_status: int | None
    final_url: str | None
    elapsed_ms: int
    rule: str | None = None
    body_digest: str | None = None
    content_type: str | None = None
    truncated: bool = False
    media_url: str | None = None
    media_digest: str | None = None
    distance: int | None = None
    redirect_chain: list[tuple[str, int]] = field(default_factory=list)
    retry_after: timedelta | None = None
    peer_ip: str | None = None
    detector_version: str = DETECTOR_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["retry_after"] = self.retry_after.total_seconds() if self.retry_after else None
        data["redirect_chain"] = [list(hop) for hop in self.redirect_chain]
        return data


class FingerprintStore(Protocol):
    """Soft-404 fingerprints per origin, shared by every worker (see services.py)."""

    def get(self, origin: str) -> StoredFingerprint | None: ...

    def put(self, fingerprint: StoredFingerprint) -> None: ...


@dataclass(frozen=True)
class StoredFingerprint:
    origin: str
    probe_url: str
    kind: str  # not_found / soft404 / unknown
    status: int | None
    page: R.PageFingerprint | None
    probed_at: datetime
    expires_at: datetime


class MemoryFingerprints:
    """An in-process store (one-shot checks and tests without a database)."""

    def __init__(self) -> None:
        self._items: dict[str, StoredFingerprint] = {}

    def get(self, origin: str) -> StoredFingerprint | None:
        item = self._items.get(origin)
        if item is None or item.expires_at <= datetime.now(UTC):
            return None
        return item

    def put(self, fingerprint: StoredFingerprint) -> None:
        self._items[fingerprint.origin] = fingerprint


def retry_after(headers: dict[str, str], now: datetime | None = None) -> timedelta | None:
    """Retry-After in seconds or as an HTTP date, capped at a week."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = when - (now or datetime.now(UTC))
    return min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def host_of_url(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def _content_type(result: FetchResult) -> str:
    return (result.headers.get("content-type") or "").split(";")[0].strip().lower()


def _is_media(result: FetchResult) -> bool:
    ctype = _content_type(result)
    if ctype.startswith(("image/", "video/")):
        return True
    return ctype in ("", "application/octet-stream") and sniff_kind(result.body[:16]) is not None


def _strong(hashes: Sequence[HashRecord]) -> bool:
    return any(h.pdq and (h.pdq_quality or 0) >= PDQ_MIN_QUALITY for h in hashes)


@dataclass
class MediaComparison:
    verdict: str  # match / replaced / unreadable / unverifiable / too_large / unavailable
    digest: str | None = None
    distance: int | None = None
    detail: str = ""


def compare_media(data: bytes, truncated: bool, hashes: Sequence[HashRecord],
                  max_pixels: int = 8_000_000) -> MediaComparison:
    """Hash fetched media with the server pipeline (at most ``max_pixels`` decoded) and
    compare it with the case's hashes."""
    if truncated:
        return MediaComparison("too_large", detail="larger than the byte cap")
    digest = hashlib.sha256(data).hexdigest()
    if any(h.sha256 and h.sha256.lower() == digest for h in hashes):
        return MediaComparison("match", digest, 0, "an exact copy (SHA-256)")
    kind = sniff_kind(data[:16])
    if kind == "video":
        return MediaComparison("unverifiable", digest, detail="a video that is not an exact copy")
    try:
        candidate = hash_fetched_image(data, max_pixels=max_pixels)
    except MediaTooLarge as exc:
        return MediaComparison("too_large", digest, detail=str(exc)[:100])
    except UnsupportedMedia as exc:
        return MediaComparison("unreadable", digest, detail=str(exc)[:80])
    matches = match_media(candidate, hashes)
    distances = [m.pdq_distance for m in matches if m.pdq_distance is not None]
    if not distances:
        distances = [
            (int(candidate["pdq"], 16) ^ int(h.pdq, 16)).bit_count()
            for h in hashes if h.pdq
        ]
    nearest = min(distances) if distances else None
    if matches:
        return MediaComparison("match", digest, nearest, f"PDQ distance {nearest}")
    if not _strong(hashes) or candidate["pdq_quality"] < PDQ_MIN_QUALITY:
        return MediaComparison("unverifiable", digest, nearest,
                               "no PDQ hash of quality 50 or more to compare")
    return MediaComparison("replaced", digest, nearest, f"PDQ distance {nearest} > 31")


RequestHook = Callable[[str], None]


class RequestRefused(Exception):
    """Raised by a ``before_request`` hook to skip one request to another host (its
    politeness slot is not free): that picture counts as not compared."""


#: Paths that name a picture or video file: a URL reported this way was the media itself.
MEDIA_EXTENSIONS = frozenset({"jpg", "jpeg", "jpe", "png", "gif", "webp", "avif", "heic",
                              "heif", "bmp", "mp4", "m4v", "mov", "webm", "mkv", "avi"})
#: Picture types that cannot be a photo of anyone (icons, vector logos): skipped.
_NOT_PHOTOS = ("image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon")


def is_media_url(url: str) -> bool:
    name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[1].lower() in MEDIA_EXTENSIONS


_SLUG_CLASSES = (string.digits, string.ascii_lowercase, string.ascii_uppercase)


def probe_path(path: str) -> str:
    """A path that does not exist on the site but looks like its own: same folder, same
    extension, a random name of the same shape (digits for digits, letters for letters,
    separators kept), at least 8 random characters."""
    folder, _, name = (path or "/").rpartition("/")
    stem, extension = name, ""
    if "." in name[1:]:
        stem, extension = name.rsplit(".", 1)
        extension = "." + extension
    out, randoms = [], 0
    for char in stem[:64]:
        pool = next((c for c in _SLUG_CLASSES if char in c), None)
        if pool is None:
            out.append(char if char in "-_" else "-")
        else:
            out.append(secrets.choice(pool))
            randoms += 1
    digits = bool(stem) and all(c.isdigit() for c in stem)
    letters = bool(stem) and not any(c.isdigit() for c in stem)
    pool = string.digits if digits else (
        string.ascii_lowercase if letters else string.ascii_lowercase + string.digits)
    out.extend(secrets.choice(pool) for _ in range(max(0, 8 - randoms)))
    slug = "".join(out).strip("-_") or "".join(secrets.choice(pool) for _ in range(10))
    if digits and slug[0] == "0":
        slug = secrets.choice("123456789") + slug[1:]
    return f"{folder}/{slug}{extension}"


@dataclass
class PictureReport:
    """What comparing a page's pictures found."""

    total: int = 0
    match: tuple[str, MediaComparison] | None = None
    placeholder: tuple[str, MediaComparison] | None = None
    compared: list[tuple[str, MediaComparison]] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # url, rule, detail
    bound: str | None = None

    @property
    def complete(self) -> bool:
        return self.bound is None and not self.problems

    def incomplete_rule(self) -> tuple[str, str]:
        if self.bound is not None:
            return "pictures_bound", self.bound
        url, rule, detail = self.problems[0]
        return rule, f"a picture ({url[:80]}) was not compared: {detail}"


class Checker:
    """Fetches and judges URLs. Thread-safe; one per worker process.

    ``before_request(host)`` (per call) is called before every request, with the host
    of that request (a picture on a CDN included), so that the caller's politeness
    (per-host spacing) covers the probe and picture requests too.
    """

    def __init__(self, settings: CheckSettings, *, fingerprints: FingerprintStore | None = None,
                 client: httpx.Client | httpx.BaseTransport | WireTransport | None = None
                 ) -> None:
        self.settings = settings
        self.fingerprints = fingerprints if fingerprints is not None else MemoryFingerprints()
        self.client = client
        self._probe_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @staticmethod
    def shared_transport() -> WireTransport:
        """One transport for many fetches (see :mod:`disrupt.monitoring.wire`: no proxy, no
        cookies, no pooled connections, no cap on parallel connections)."""
        return shared_transport()

    # -- fetching ----------------------------------------------------------------------
    def _fetch(self, url: str, max_bytes: int, hook: RequestHook | None,
               deadline: float | None = None) -> FetchResult:
        if hook is not None:
            hook(host_of_url(url))
        s = self.settings
        timeout = s.timeout
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - time.monotonic()))
        return fetch(url, allow_loopback=s.allow_loopback, timeout=timeout,
                     max_bytes=max_bytes, max_redirects=s.max_redirects,
                     user_agent=s.user_agent, client=self.client)

    def check(self, target: CheckTarget, *,
              before_request: RequestHook | None = None) -> CheckOutcome:
        deadline = time.monotonic() + self.settings.deadline
        result = self._fetch(target.url, self.settings.max_bytes, before_request, deadline)
        return self.judge(target, result, before_request=before_request, deadline=deadline)

    # -- the rules (docs/verdicts.md) --------------------------------------------------
    def judge(self, target: CheckTarget, result: FetchResult, *,
              before_request: RequestHook | None = None,
              deadline: float | None = None) -> CheckOutcome:
        if deadline is None:
            deadline = time.monotonic() + self.settings.deadline
        ctype = _content_type(result) or None
        digest = None if result.truncated or result.error else (
            hashlib.sha256(result.body).hexdigest() if result.body else None)
        out = CheckOutcome(
            verdict="indeterminate", reason="", http_status=result.status,
            final_url=result.final_url, elapsed_ms=result.elapsed_ms, body_digest=digest,
            content_type=ctype[:120] if ctype else None, truncated=result.truncated,
            redirect_chain=list(result.redirect_chain), peer_ip=result.peer_ip,
            retry_after=retry_after(result.headers or {}),
        )

        def done(verdict: str, rule: str, reason: str) -> CheckOutcome:
            out.verdict, out.rule, out.reason = verdict, rule, reason[:200]
            return out

        if result.error == "guard":
            where = " on a redirect" if result.redirect_chain else ""
            return done("invalid", "guard", f"refused by the network guard{where}: "
                        f"{result.refused_reason} ({result.error_detail})")
        if result.error:
            return done("indeterminate", "network", f"{result.error}: {result.error_detail}")
        status = result.status or 0
        if status in (404, 410):
            return done("removed", "status_removed", f"HTTP {status}")
        if status == 451:
            return done("restricted", "status_restricted", "HTTP 451 unavailable for legal reasons")
        if not 200 <= status < 300:
            return done("indeterminate", "status_inconclusive", f"HTTP {status} proves nothing")

        rules = R.rules_of(target.rules)
        redirected = bool(result.redirect_chain)
        if R.is_placeholder_url(result.final_url, rules["placeholder_redirects"]):
            return done("removed", "placeholder_url",
                        f"redirected to the platform's placeholder {result.final_url}")
        placeholders = {d.lower() for d in rules["placeholder_digests"]}
        if digest and digest in placeholders:
            return done("removed", "placeholder_digest", "the platform's placeholder is served")
        media = _is_media(result)
        page = None if media else read_page(result.body, result.final_url)
        if R.login_wall(result.final_url, redirected, result.body,
                        password_input=page.password_input if page else False):
            return done("indeterminate", "login_wall",
                        f"a login or age gate stands in front of the content ({result.final_url})")
        if page is not None and R.captcha(result.body):
            return done("indeterminate", "captcha", "a captcha stands in front of the content")
        if not result.body:
            return done("indeterminate", "empty", f"HTTP {status} with an empty body")
        if page is None:
            return self._judge_media(target, result, out, done, before_request, deadline)
        return self._judge_page(target, result, page, rules, placeholders, out, done,
                                before_request, deadline)

    def _judge_media(self, target: CheckTarget, result: FetchResult, out: CheckOutcome,
                     done: Callable[[str, str, str], CheckOutcome],
                     hook: RequestHook | None, deadline: float) -> CheckOutcome:
        """The URL answers a picture or video itself."""
        out.media_url = result.final_url
        what = f"HTTP {result.status} serves {out.content_type or 'media'}"
        if target.hashes:
            cmp = compare_media(result.body, result.truncated, target.hashes,
                                self.settings.max_media_pixels)
            out.media_digest, out.distance = cmp.digest, cmp.distance
            if cmp.verdict == "match":
                return done("online", "media_match", f"the picture still matches the case: "
                            f"{cmp.detail}")
        soft = self._soft404(target.url, result, None, hook, deadline)
        if soft:
            return done("removed", "soft404_fingerprint", soft)
        if not target.hashes:
            return done("online", "media_served", f"{what} (no case hashes to compare)")
        if cmp.verdict == "replaced":
            if target.seen_matching:
                return done("removed", "media_replaced",
                            f"the picture, once seen matching, was replaced: {cmp.detail}")
            return done("online", "picture_not_confirmed",
                        f"{what} that does not match the case's hashes ({cmp.detail}) and "
                        "was never seen matching: not confirmed")
        if cmp.verdict == "unverifiable":
            return done("online", "picture_not_confirmed",
                        f"{what} that cannot be compared: {cmp.detail}")
        if cmp.verdict == "too_large":
            return done("indeterminate", "media_too_large",
                        f"the picture was not compared: {cmp.detail}")
        return done("indeterminate", "media_unreadable",
                    f"the picture could not be decoded: {cmp.detail}")

    def _judge_page(self, target: CheckTarget, result: FetchResult, page: Page,
                    rules: dict[str, list[str]], placeholders: set[str], out: CheckOutcome,
                    done: Callable[[str, str, str], CheckOutcome],
                    hook: RequestHook | None, deadline: float) -> CheckOutcome:
        """The URL answers a page: its pictures first, then the removal evidence."""
        status = result.status
        truncated = result.truncated or page.truncated
        report = PictureReport(total=len(page.pictures))
        if target.hashes:
            report = self._compare_pictures(target, page.pictures, placeholders, hook,
                                            deadline)
            if report.match is not None:
                url, cmp = report.match
                out.media_url, out.media_digest, out.distance = url, cmp.digest, cmp.distance
                return done("online", "media_match",
                            f"a picture of the page still matches the case: {cmp.detail}")
            shown = report.placeholder or (report.compared[0] if report.compared else None)
            if shown is not None:
                out.media_url, out.media_digest = shown[0], shown[1].digest
                out.distance = shown[1].distance

        evidence = self._removal_evidence(target, result, page, rules, report, out, hook,
                                          deadline)
        if evidence is not None:
            rule, reason = evidence
            if (report.complete and not truncated) or target.seen_matching \
                    or not target.hashes:
                return done("removed", rule, reason)
            if report.complete:
                return done("indeterminate", "page_truncated",
                            f"{reason}, but only a part of the page could be read")
            bound_rule, bound_reason = report.incomplete_rule()
            return done("indeterminate", bound_rule, f"{reason}, but not every picture was "
                        f"compared: {bound_reason}")
        return self._verdict_without_evidence(target, report, truncated, status, out, done)

    def _removal_evidence(self, target: CheckTarget, result: FetchResult, page: Page,
                          rules: dict[str, list[str]], report: PictureReport, out: CheckOutcome,
                          hook: RequestHook | None, deadline: float) -> tuple[str, str] | None:
        """The first sign that the platform took the content down: (rule, reason), or None."""
        if report.placeholder is not None:
            return ("placeholder_digest", "the page shows the platform's placeholder picture")
        marker = R.marker_found(result.body, rules["soft_404_markers"], page.text)
        if marker:
            return ("platform_marker", f"the page says {marker!r}")
        soft = self._soft404(target.url, result, page, hook, deadline)
        if soft:
            return ("soft404_fingerprint", soft)
        if is_media_url(target.url) and target.seen_matching:
            return ("media_replaced", "the picture's URL, once seen matching, now "
                    f"serves a page ({out.content_type or 'HTML'})")
        return None

    @staticmethod
    def _verdict_without_evidence(target: CheckTarget, report: PictureReport, truncated: bool,
                                  status: int | None, out: CheckOutcome,
                                  done: Callable[[str, str, str], CheckOutcome]) -> CheckOutcome:
        """No sign of removal: online when the pictures say so, indeterminate when unsure."""
        media_url = is_media_url(target.url)
        if not target.hashes:
            if media_url:
                return done("indeterminate", "media_now_page",
                            f"the picture's URL serves a page ({out.content_type or 'HTML'})")
            if truncated:
                return done("indeterminate", "page_truncated",
                            "only a part of the page could be read (size or nesting): "
                            "not every rule could be applied")
            return done("online", "page_passes",
                        f"HTTP {status}, page passes every removal rule (no case hashes)")
        if not report.complete:
            return done("indeterminate", *report.incomplete_rule())
        if truncated:
            return done("indeterminate", "page_truncated",
                        "only a part of the page could be read (size or nesting): "
                        "not every picture could be compared")
        mismatched = [c for c in report.compared if c[1].verdict == "replaced"]
        if target.seen_matching and (mismatched or not report.compared):
            what = (f"none of its {len(report.compared)} pictures matches any more"
                    if report.compared else "it shows no picture any more")
            return done("removed", "media_replaced",
                        f"the page was once seen matching; {what}")
        if media_url:
            return done("indeterminate", "media_now_page",
                        f"the picture's URL serves a page ({out.content_type or 'HTML'}) "
                        "without a matching picture, and was never seen matching")
        if not report.compared:
            why = "the page shows no picture to compare"
        elif mismatched:
            why = (f"{len(report.compared)} picture(s) compared, none matches the case "
                   f"(nearest {mismatched[0][1].detail})")
        else:
            why = f"its pictures cannot be compared ({report.compared[0][1].detail})"
        return done("online", "picture_not_confirmed",
                    f"HTTP {status}, page passes every removal rule; {why}: not confirmed")

    def _compare_pictures(self, target: CheckTarget, pictures: list[str],
                          placeholders: set[str], hook: RequestHook | None,
                          deadline: float) -> PictureReport:
        """Fetch and compare the pictures in page order until one matches, within the
        bounds (count, bytes, the check's deadline)."""
        s = self.settings
        report = PictureReport(total=len(pictures))
        for index, url in enumerate(pictures):
            if index >= s.max_pictures:
                report.bound = (f"only the first {s.max_pictures} of {len(pictures)} pictures "
                                "were compared (CHECK_MAX_PICTURES)")
                break
            if time.monotonic() >= deadline:
                report.bound = (f"the check's deadline ({s.deadline:g}s, "
                                f"CHECK_DEADLINE_SECONDS) passed after {index} of "
                                f"{len(pictures)} pictures")
                break
            try:
                fetched = self._fetch(url, s.max_media_bytes, hook, deadline)
            except RequestRefused as exc:
                report.problems.append((url, "media_unavailable", f"not fetched: {exc}"))
                continue
            if fetched.error == "guard" or fetched.status in (404, 410):
                continue  # nobody is shown a picture there
            if fetched.error or not 200 <= (fetched.status or 0) < 300:
                what = fetched.error or f"HTTP {fetched.status}"
                report.problems.append((url, "media_unavailable", f"could not be fetched: "
                                        f"{what}"))
                continue
            if not _is_media(fetched) or _content_type(fetched) in _NOT_PHOTOS:
                continue  # a page or an icon where a picture was expected: no photo shown
            cmp = compare_media(fetched.body, fetched.truncated, target.hashes,
                                s.max_media_pixels)
            if cmp.digest and cmp.digest in placeholders:
                report.placeholder = report.placeholder or (url, cmp)
                continue
            if cmp.verdict == "match":
                report.match = (url, cmp)
                return report
            if cmp.verdict in ("replaced", "unverifiable"):
                report.compared.append((url, cmp))
            else:
                rule = "media_too_large" if cmp.verdict == "too_large" else "media_unreadable"
                report.problems.append((url, rule, cmp.detail))
        return report

    # -- soft 404 ----------------------------------------------------------------------
    def _probe_lock(self, origin: str) -> threading.Lock:
        with self._locks_lock:
            return self._probe_locks.setdefault(origin, threading.Lock())

    def _soft404(self, url: str, result: FetchResult, page: Page | None,
                 hook: RequestHook | None, deadline: float | None = None) -> str | None:
        origin = origin_of(url)
        stored = self.fingerprints.get(origin)
        if stored is None:
            with self._probe_lock(origin):
                stored = self.fingerprints.get(origin)
                if stored is None:
                    try:
                        stored = self._probe(origin, url, hook, deadline)
                    except RequestRefused:
                        return None
                    self.fingerprints.put(stored)
        if stored.kind != "soft404" or stored.page is None:
            return None
        answer = R.fingerprint(result.final_url, bool(result.redirect_chain), result.body, url,
                               result.truncated, page is None,
                               visible_text=page.text if page is not None else None)
        why = R.same_as_probe(answer, stored.page)
        return f"soft 404: {why}" if why else None

    def _probe(self, origin: str, url: str, hook: RequestHook | None,
               deadline: float | None = None) -> StoredFingerprint:
        """Fetch a path that cannot exist but looks like the site's own (:func:`probe_path`)."""
        probe_url = origin + probe_path(urllib.parse.urlsplit(url).path)
        result = self._fetch(probe_url, self.settings.max_bytes, hook, deadline)
        now = datetime.now(UTC)
        status = result.status if not result.error else None
        page = None
        if status in (404, 410):
            kind = "not_found"
        elif status is not None and 200 <= status < 300:
            kind = "soft404"
            page = R.fingerprint(result.final_url, bool(result.redirect_chain), result.body,
                                 probe_url, result.truncated, _is_media(result))
        else:
            kind = "unknown"
        ttl = self.settings.probe_ttl if kind != "unknown" else min(
            self.settings.probe_ttl, timedelta(minutes=10))
        return StoredFingerprint(origin=origin, probe_url=probe_url, kind=kind, status=status,
                                 page=page, probed_at=now, expires_at=now + ttl)


def check_url(url: str, settings: CheckSettings) -> CheckOutcome:
    """One check without a case or platform rules (what `disrupt check-url` does without
    --case and without a database)."""
    return Checker(settings).check(CheckTarget(url))
