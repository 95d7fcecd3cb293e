"""Reading a fetched HTML page with a real HTML5 parser (Lexbor, through selectolax).

Pages are hostile input: at most :data:`PARSE_LIMIT` bytes are parsed, in time linear in
their size. The HTML5 tree builder scans the stack of open elements for many tags, so its
cost grows with the nesting depth as well; like browsers (Chromium stops at 512), the page
is read only up to the first tag nested deeper than :data:`MAX_DEPTH`, found by a linear
pre-scan of the tag names, and the page is then marked ``truncated``.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

PARSE_LIMIT = 5_000_000  # bytes of a page that are parsed (CHECK_MAX_BYTES' default)
MAX_DEPTH = 256

#: Elements that never have an end tag, or that the parser closes implicitly when the
#: next one starts: they do not deepen the tree.
_FLAT = frozenset({b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input",
                   b"link", b"meta", b"source", b"track", b"wbr", b"param", b"keygen",
                   b"p", b"li", b"dt", b"dd", b"option", b"optgroup", b"tr", b"td", b"th",
                   b"tbody", b"thead", b"tfoot", b"colgroup", b"rb", b"rt", b"rp", b"html",
                   b"head", b"body", b"frame", b"image"})
_RAW_TEXT = frozenset({b"script", b"style", b"textarea", b"title", b"xmp", b"iframe",
                       b"noembed", b"noframes", b"plaintext"})
# A tag's start: no nested quantifiers, so matching is linear (the scan jumps past each).
_TAG_START = re.compile(rb"<(?:(/?)([A-Za-z][A-Za-z0-9]{0,31})|!--)")

#: Attributes that lazy-loading scripts read the picture's address from.
LAZY_SRC = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url",
            "data-full", "data-full-src", "data-large", "data-hi-res", "data-zoom-image",
            "data-image", "data-echo", "data-img", "data-orig-file", "data-large-file")
LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
META_IMAGE = frozenset({"og:image", "og:image:url", "og:image:secure_url", "twitter:image",
                        "twitter:image:src"})
_SKIPPED_TEXT = ["script", "style", "noscript", "template"]


@dataclass
class Page:
    """What the checker needs of a page: its pictures in page order, its title, its
    visible text, whether it asks for a password, and whether only a part was read
    (larger than :data:`PARSE_LIMIT`, or nested deeper than :data:`MAX_DEPTH`)."""

    pictures: list[str]
    title: str | None
    text: str
    password_input: bool
    truncated: bool = False


def readable_part(body: bytes) -> bytes:
    """``body`` up to :data:`PARSE_LIMIT` bytes and up to the first tag that would nest
    deeper than :data:`MAX_DEPTH` elements (an over-estimate: every start tag of an
    element that has content counts until its end tag)."""
    body = body[:PARSE_LIMIT]
    depth, pos = 0, 0
    search = _TAG_START.search
    while (match := search(body, pos)) is not None:
        pos = match.end()
        if match.group(2) is None:  # a comment: its content is no markup
            end = body.find(b"-->", pos)
            pos = len(body) if end < 0 else end + 3
            continue
        name = match.group(2).lower()
        if match.group(1):
            if name not in _FLAT and depth:
                depth -= 1
            continue
        if name in _RAW_TEXT:  # its content is text: jump to its end tag
            end = _find_end(body, name, pos)
            pos = len(body) if end < 0 else end
            continue
        if name in _FLAT:
            continue
        depth += 1
        if depth > MAX_DEPTH:
            return body[:match.start()]
    return body


def _find_end(body: bytes, name: bytes, start: int) -> int:
    """The offset of ``</name`` (any case) at or after ``start``, or -1."""
    pattern = re.compile(rb"</" + re.escape(name), re.IGNORECASE)
    found = pattern.search(body, start)
    return found.start() if found else -1


def _tree(body: bytes) -> tuple[LexborHTMLParser, bool]:
    part = readable_part(body)
    return LexborHTMLParser(part.decode("utf-8", "replace")), len(part) < len(body)


SRCSET_LIMIT = 20_000  # characters of one srcset read (real ones are far shorter)


def srcset_candidates(srcset: str) -> list[tuple[str, str]]:
    """(URL, descriptor) pairs, read as the HTML standard does: a URL is a run of
    non-blanks (so it may hold commas, as image CDNs' ``w_320,c_fill`` do); trailing commas
    end it without descriptors; otherwise its descriptors run to the next comma outside
    parentheses."""
    value, out, i = srcset[:SRCSET_LIMIT], [], 0
    n = len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        j = i
        while j < n and not value[j].isspace():
            j += 1
        url, i, descriptor = value[i:j], j, ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth, k = 0, i
            while k < n and (value[k] != "," or depth):
                depth += 1 if value[k] == "(" else -1 if value[k] == ")" and depth else 0
                k += 1
            descriptor, i = value[i:k].strip(), k + 1
        if url:
            out.append((url, descriptor))
    return out


def _largest(srcset: str) -> str | None:
    """The candidate of a srcset with the largest width (or density) descriptor."""
    best: tuple[float, int, str] | None = None
    for order, (url, descriptor) in enumerate(srcset_candidates(srcset)):
        size = 0.0
        for token in descriptor.split():
            number = token[:-1]
            if token[-1:] in ("w", "x") and number.replace(".", "", 1).isdigit():
                # A density beats a width in the same set only by accident of authoring.
                size = float(number) * (10_000 if token.endswith("x") else 1)
        key = (size, -order, url)
        if best is None or key > best:
            best = key
    return best[2] if best else None


def _candidates(tree: LexborHTMLParser) -> list[str]:
    found: list[str] = []
    for node in tree.css("img, source, video, meta, link"):
        attrs = node.attributes
        tag = node.tag
        if tag == "meta":
            key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
            if key in META_IMAGE and attrs.get("content"):
                found.append(attrs["content"] or "")
            continue
        if tag == "link":
            rels = (attrs.get("rel") or "").lower().split()
            if "image_src" in rels and attrs.get("href"):
                found.append(attrs["href"] or "")
            continue
        if tag == "video":
            if attrs.get("poster"):
                found.append(attrs["poster"] or "")
            continue
        if tag == "source" and (node.parent is None or node.parent.tag != "picture"):
            continue  # <source> of a <video> or <audio>: not a picture
        for name in ("srcset", *LAZY_SRCSET):
            best = _largest(attrs.get(name) or "")
            if best:
                found.append(best)
        for name in ("src", *LAZY_SRC):
            if attrs.get(name):
                found.append(attrs[name] or "")
    return found


def read_page(body: bytes, base_url: str) -> Page:
    """Parse ``body`` once; candidates are absolute http(s) URLs, de-duplicated, in page
    order (resolved against ``<base href>`` when the page has one, else ``base_url``)."""
    tree, truncated = _tree(body)
    base = base_url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = urllib.parse.urljoin(base_url, (base_node.attributes.get("href") or "").strip())
    pictures: list[str] = []
    for raw in _candidates(tree):
        raw = raw.strip()
        if not raw or raw.lower().startswith("data:"):
            continue
        try:
            absolute = urllib.parse.urljoin(base, raw)
        except ValueError:
            continue
        absolute = absolute.split("#", 1)[0]
        if absolute.startswith(("http://", "https://")) and absolute not in pictures:
            pictures.append(absolute)
    title_node = tree.css_first("title")
    title = title_node.text().strip()[:200] if title_node is not None else None
    password = any((n.attributes.get("type") or "").strip().lower() == "password"
                   for n in tree.css("input"))
    tree.strip_tags(_SKIPPED_TEXT)
    root = tree.root
    text = root.text(separator=" ") if root is not None else ""
    return Page(pictures=pictures, title=title or None, text=text, password_input=password,
                truncated=truncated)
