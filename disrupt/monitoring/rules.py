"""Pure verdict helpers: platform removal rules, soft-404 fingerprints (pages are read by
:mod:`disrupt.monitoring.page`, never by regular expressions).

``Platform.removal_rules`` is a JSON dict of lists of strings whose keys the platform
registry defines and validates (``disrupt.platforms.services.RULE_KEYS``):

* ``soft_404_markers`` – text that, found in a 2xx page, means the content is gone
  ("This content isn't available"); compared case-insensitively, blanks collapsed;
* ``placeholder_redirects`` – URL prefixes of the platform's "removed" page or
  picture: a final URL (after redirects) that starts with one is a removal;
* ``placeholder_digests`` – SHA-256 (hex) of placeholder pictures or pages.
"""
from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from disrupt.monitoring.page import PARSE_LIMIT, read_page

RULE_KEYS = ("soft_404_markers", "placeholder_redirects", "placeholder_digests")

#: Machine codes stored in URLCheck.rule; docs/verdicts.md documents each (a test keeps
#: the two the same).
RULES = frozenset({
    "status_removed", "status_restricted", "status_inconclusive", "network", "guard",
    "placeholder_url", "placeholder_digest", "platform_marker", "soft404_fingerprint",
    "login_wall", "captcha", "media_match", "media_replaced", "media_unreadable",
    "media_unavailable", "media_too_large", "page_passes", "page_truncated", "media_served",
    "empty", "picture_not_confirmed", "pictures_bound", "media_now_page",
})

_LOGIN_URL = re.compile(
    r"(?:^|[/?&=#._-])(?:log-?in|sign-?in|sign_in|signup|sign-?up|auth(?:enticate|orize)?|"
    r"oauth|sso|session/new|accounts?/login|age[-_]?(?:gate|verification|check|verify)|"
    r"verify[-_]?age|consent|interstitial|challenge)(?:$|[/?&=#._-])",
    re.IGNORECASE,
)
_CAPTCHA = (b"g-recaptcha", b"h-captcha", b"hcaptcha.com", b"cf-chl-", b"challenge-platform",
            b"captcha-delivery", b"/cdn-cgi/challenge", b"px-captcha")


def rules_of(raw: dict[str, Any] | None) -> dict[str, list[str]]:
    """The documented keys of a platform's removal_rules, as lists of strings."""
    raw = raw or {}
    out: dict[str, list[str]] = {}
    for key in RULE_KEYS:
        value = raw.get(key) or []
        if isinstance(value, str):
            value = [value]
        out[key] = [str(v) for v in value if str(v).strip()]
    return out


def is_placeholder_url(url: str | None, prefixes: list[str]) -> bool:
    return bool(url) and any(url.startswith(prefix) for prefix in prefixes)


def login_wall(final_url: str | None, redirected: bool, body: bytes,
               password_input: bool | None = None) -> bool:
    """A login, consent or age-gate page in place of the content (after a redirect).
    ``password_input``: whether the page has one, when the caller already parsed it."""
    if not redirected:
        return False
    if final_url:
        parts = urllib.parse.urlsplit(final_url)
        if _LOGIN_URL.search(parts.path) or _LOGIN_URL.search(parts.query):
            return True
    if password_input is None:
        password_input = read_page(body, final_url or "").password_input
    return password_input


def captcha(body: bytes) -> bool:
    head = body[:PARSE_LIMIT].lower()
    return any(marker in head for marker in _CAPTCHA)


def marker_found(body: bytes, markers: list[str], visible_text: str | None = None) -> str | None:
    """The first marker found in the page's visible text (not in its scripts: a site's
    script bundles carry its error messages on every page)."""
    if not markers:
        return None
    if visible_text is None:
        visible_text = read_page(body, "").text
    text = " ".join(visible_text.lower().split())
    for marker in markers:
        if re.sub(r"\s+", " ", marker.lower()) in text:
            return marker
    return None


# -- page text -------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def words_of(text: str, *, remove: tuple[str, ...] = ()) -> str:
    """The words of a page's visible text, lower-cased, without digits and without the
    given strings (the requested path, which pages often echo)."""
    text = text.lower()
    for token in remove:
        if token:
            text = text.replace(token.lower(), " ")
    return " ".join(_WORD.findall(text))


def page_text(body: bytes, *, remove: tuple[str, ...] = ()) -> str:
    """Visible words of a page (see :func:`words_of`)."""
    return words_of(read_page(body, "").text, remove=remove)


def title(body: bytes) -> str | None:
    return read_page(body, "").title


def simhash(text: str) -> str:
    """64-bit simhash of word 3-shingles (16 hex digits)."""
    words = text.split()
    shingles = [" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))] if words else []
    weights = [0] * 64
    for shingle in shingles:
        value = int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if value >> bit & 1 else -1
    out = 0
    for bit in range(64):
        if weights[bit] > 0:
            out |= 1 << bit
    return f"{out:016x}"


def simhash_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def url_tokens(url: str) -> tuple[str, ...]:
    """The path and its last segment, which a not-found page may quote back."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parts.path)
    last = path.rsplit("/", 1)[-1]
    stem = last.rsplit(".", 1)[0]
    return tuple(t for t in (url, path, last, stem) if len(t) > 2)


@dataclass(frozen=True)
class PageFingerprint:
    """What the soft-404 comparison needs of a page (or of the probe's answer)."""

    final_url: str
    redirected: bool
    text_simhash: str | None
    text_digest: str | None
    body_digest: str | None
    words: int


def fingerprint(final_url: str, redirected: bool, body: bytes, requested_url: str,
                truncated: bool = False, media: bool = False,
                visible_text: str | None = None) -> PageFingerprint:
    """``visible_text``: the page's text when the caller already parsed it."""
    if media:
        text = ""
    elif visible_text is not None:
        text = words_of(visible_text, remove=url_tokens(requested_url))
    else:
        text = page_text(body, remove=url_tokens(requested_url))
    return PageFingerprint(
        final_url=final_url,
        redirected=redirected,
        text_simhash=simhash(text) if text else None,
        text_digest=hashlib.sha256(text.encode()).hexdigest() if text else None,
        body_digest=None if truncated else hashlib.sha256(body).hexdigest(),
        words=len(text.split()),
    )


SIMHASH_MAX_DISTANCE = 4


def same_as_probe(page: PageFingerprint, probe: PageFingerprint) -> str | None:
    """Why ``page`` is the site's not-found answer, or None."""
    if page.redirected and probe.redirected and page.final_url == probe.final_url:
        return f"redirected where a random path is redirected ({page.final_url[:80]})"
    if page.body_digest and page.body_digest == probe.body_digest:
        return "the same answer as a random path on this site"
    if page.text_digest and page.text_digest == probe.text_digest:
        return "the same text as a random path on this site"
    if (page.text_simhash and probe.text_simhash and min(page.words, probe.words) >= 8
            and simhash_distance(page.text_simhash, probe.text_simhash) <= SIMHASH_MAX_DISTANCE):
        return "nearly the same text as a random path on this site"
    return None
