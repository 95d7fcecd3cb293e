"""One check of one URL: fetch it through the network guard and give a verdict with its
evidence (DESIGN.md §6).

Order of the rules for a 2xx answer: placeholder URL or digest (platform rules) →
login / age-gate / captcha (indeterminate) → platform "removed" markers → the host's
soft-404 fingerprint (a cached probe of a random path) → media verification against
the case's active hashes (the URL's own picture, or the page's main picture) → online.
Only what proves removal counts as removed; what proves nothing is indeterminate.
"""
from __future__ import annotations

import email.utils
import hashlib
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from disrupt.hashing.matching import PDQ_MIN_QUALITY, HashRecord, match_media
from disrupt.hashing.pipeline import UnsupportedMedia, hash_image_bytes, sniff_kind
from disrupt.monitoring import rules as R
from disrupt.monitoring.fetch import FetchResult, fetch, shared_transport

DETECTOR_VERSION = "rules-2"
MAX_RETRY_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class CheckSettings:
    allow_loopback: bool = False
    timeout: float = 15.0
    max_bytes: int = 5_000_000
    max_media_bytes: int = 10_000_000
    max_redirects: int = 5
    user_agent: str = "DISRUPT-checker"
    probe_ttl: timedelta = timedelta(days=1)
    media_candidates: int = 2

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
        )


@dataclass(frozen=True)
class CheckTarget:
    """A URL and what the checker compares it with: the case's active hashes and the
    platform's removal rules (both may be empty)."""

    url: str
    hashes: tuple[HashRecord, ...] = ()
    rules: dict[str, Any] = field(default_factory=dict)


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
    verdict: str  # match / replaced / unreadable / unverifiable / too_large
    digest: str | None = None
    distance: int | None = None
    detail: str = ""


def compare_media(data: bytes, truncated: bool, hashes: Sequence[HashRecord]) -> MediaComparison:
    """Hash fetched media with the server pipeline and compare it with the case's hashes."""
    if truncated:
        return MediaComparison("too_large", detail="larger than the byte cap")
    digest = hashlib.sha256(data).hexdigest()
    if any(h.sha256 and h.sha256.lower() == digest for h in hashes):
        return MediaComparison("match", digest, 0, "an exact copy (SHA-256)")
    kind = sniff_kind(data[:16])
    if kind == "video":
        return MediaComparison("unverifiable", digest, detail="a video that is not an exact copy")
    try:
        candidate = hash_image_bytes(data)
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


class Checker:
    """Fetches and judges URLs. Thread-safe; one per worker process.

    ``before_request(host)`` (per call) is called before every request so that the
    caller's politeness (per-host spacing) covers the probe and media requests too.
    """

    def __init__(self, settings: CheckSettings, *, fingerprints: FingerprintStore | None = None,
                 client: httpx.Client | httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.fingerprints = fingerprints if fingerprints is not None else MemoryFingerprints()
        self.client = client
        self._probe_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @staticmethod
    def shared_transport() -> httpx.BaseTransport:
        """One transport for many fetches (see :class:`disrupt.monitoring.fetch.PerThreadTransport`:
        no proxy, no cookies, no pooled connections, no cap on parallel connections)."""
        return shared_transport()

    # -- fetching ----------------------------------------------------------------------
    def _fetch(self, url: str, max_bytes: int, hook: RequestHook | None) -> FetchResult:
        if hook is not None:
            hook(host_of_url(url))
        s = self.settings
        return fetch(url, allow_loopback=s.allow_loopback, timeout=s.timeout,
                     max_bytes=max_bytes, max_redirects=s.max_redirects,
                     user_agent=s.user_agent, client=self.client)

    def check(self, target: CheckTarget, *,
              before_request: RequestHook | None = None) -> CheckOutcome:
        result = self._fetch(target.url, self.settings.max_bytes, before_request)
        return self.judge(target, result, before_request=before_request)

    # -- the rules ---------------------------------------------------------------------
    def judge(self, target: CheckTarget, result: FetchResult, *,
              before_request: RequestHook | None = None) -> CheckOutcome:
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
        if R.login_wall(result.final_url, redirected, result.body):
            return done("indeterminate", "login_wall",
                        f"a login or age gate stands in front of the content ({result.final_url})")
        media = _is_media(result)
        if not media and R.captcha(result.body):
            return done("indeterminate", "captcha", "a captcha stands in front of the content")
        if not media:
            marker = R.marker_found(result.body, rules["soft_404_markers"])
            if marker:
                return done("removed", "platform_marker", f"the page says {marker!r}")
        if not result.body:
            return done("indeterminate", "empty", f"HTTP {status} with an empty body")

        soft = self._soft404(target.url, result, before_request)
        if soft:
            return done("removed", "soft404_fingerprint", soft)

        if media:
            out.media_url = result.final_url
            if not target.hashes:
                return done("online", "media_served",
                            f"HTTP {status} serves {ctype or 'media'} (no case hashes to compare)")
            cmp = compare_media(result.body, result.truncated, target.hashes)
            return self._media_verdict(out, cmp, placeholders, done)

        if target.hashes:
            candidates = R.main_images(result.body, result.final_url,
                                       limit=self.settings.media_candidates)
            seen: list[tuple[str, MediaComparison]] = []
            for image_url in candidates:
                fetched = self._fetch(image_url, self.settings.max_media_bytes, before_request)
                if fetched.error or not 200 <= (fetched.status or 0) < 300:
                    what = fetched.error or f"HTTP {fetched.status}"
                    seen.append((image_url, MediaComparison("unavailable", detail=what)))
                    continue
                cmp = compare_media(fetched.body, fetched.truncated, target.hashes)
                seen.append((image_url, cmp))
                if cmp.verdict == "match" or (cmp.digest and cmp.digest in placeholders):
                    break
            if seen:
                decisive = next((s for s in seen if s[1].verdict == "match"), None) or next(
                    (s for s in seen if s[1].digest and s[1].digest in placeholders), None
                ) or next((s for s in seen if s[1].verdict == "replaced"), None) or seen[0]
                out.media_url = decisive[0]
                if decisive[1].verdict == "unverifiable":
                    out.media_digest, out.distance = decisive[1].digest, decisive[1].distance
                    return done("online", "page_passes",
                                f"HTTP {status}, page passes every removal rule; its picture "
                                f"cannot be compared ({decisive[1].detail})")
                return self._media_verdict(out, decisive[1], placeholders, done, page=True)
        if result.truncated:
            return done("indeterminate", "page_truncated",
                        f"the page is larger than {self.settings.max_bytes} bytes: "
                        "not every rule could be applied")
        return done("online", "page_passes", f"HTTP {status}, page passes every removal rule")

    @staticmethod
    def _media_verdict(out: CheckOutcome, cmp: MediaComparison, placeholders: set[str],
                       done: Callable[[str, str, str], CheckOutcome],
                       page: bool = False) -> CheckOutcome:
        out.media_digest, out.distance = cmp.digest, cmp.distance
        what = "the page's picture" if page else "the picture"
        if cmp.digest and cmp.digest in placeholders:
            return done("removed", "placeholder_digest", f"{what} is the platform's placeholder")
        if cmp.verdict == "match":
            return done("online", "media_match", f"{what} still matches the case: {cmp.detail}")
        if cmp.verdict == "replaced":
            return done("removed", "media_replaced",
                        f"{what} was replaced by another picture: {cmp.detail}")
        if cmp.verdict == "too_large":
            return done("indeterminate", "media_too_large",
                        f"{what} is larger than the byte cap: not compared")
        if cmp.verdict == "unavailable":
            return done("indeterminate", "media_unavailable",
                        f"{what} could not be fetched: {cmp.detail}")
        if cmp.verdict == "unverifiable":
            return done("online", "media_served", f"{what} is served: {cmp.detail}")
        return done("indeterminate", "media_unreadable",
                    f"{what} could not be decoded: {cmp.detail}")

    # -- soft 404 ----------------------------------------------------------------------
    def _probe_lock(self, origin: str) -> threading.Lock:
        with self._locks_lock:
            return self._probe_locks.setdefault(origin, threading.Lock())

    def _soft404(self, url: str, result: FetchResult,
                 hook: RequestHook | None) -> str | None:
        origin = origin_of(url)
        stored = self.fingerprints.get(origin)
        if stored is None:
            with self._probe_lock(origin):
                stored = self.fingerprints.get(origin)
                if stored is None:
                    stored = self._probe(origin, url, hook)
                    self.fingerprints.put(stored)
        if stored.kind != "soft404" or stored.page is None:
            return None
        page = R.fingerprint(result.final_url, bool(result.redirect_chain), result.body, url,
                             result.truncated, _is_media(result))
        why = R.same_as_probe(page, stored.page)
        return f"soft 404: {why}" if why else None

    def _probe(self, origin: str, url: str, hook: RequestHook | None) -> StoredFingerprint:
        """Fetch a path that cannot exist, in the same folder and with the same extension."""
        path = urllib.parse.urlsplit(url).path or "/"
        folder, _, name = path.rpartition("/")
        extension = "." + name.rsplit(".", 1)[1] if "." in name else ""
        probe_url = f"{origin}{folder}/disrupt-probe-{secrets.token_hex(8)}{extension}"
        result = self._fetch(probe_url, self.settings.max_bytes, hook)
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
