"""Host names → registrable domains, for matching URLs to platforms.

Public-suffix aware and offline: the list is the copy bundled with the pinned
``publicsuffixlist`` package (``publicsuffixlist/public_suffix_list.dat``, a recent
snapshot: bump the pin to refresh it), parsed with ``publicsuffix2``'s parser, read from
disk once. Only ``publicsuffix2.fetch()`` touches the network and it is never called.

The list includes the *private* section (github.io, blogspot.com,
herokuapp.com, …), so ``alice.github.io`` and ``bob.github.io`` are separate
registrable domains – which is what platform matching needs: a platform
registered as "github.io" is the suffix operator, not every user page.
"""
from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path

import idna
import publicsuffix2
import publicsuffixlist

#: The Public Suffix List file (see the module docstring).
PSL_FILE = str(Path(publicsuffixlist.__file__).with_name("public_suffix_list.dat"))

@lru_cache(maxsize=1)
def _psl() -> publicsuffix2.PublicSuffixList:
    # An explicit path: the bundled file, never publicsuffix2.fetch().
    return publicsuffix2.PublicSuffixList(PSL_FILE, idna=True)


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _canonical_host(host: str) -> str | None:
    """Lower-case, strip brackets and one trailing dot, IDN labels to punycode.

    "" for an empty host, None for something that is neither a host name nor an
    IP literal.
    """
    h = host.strip()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if h.endswith(".") and not h.endswith(".."):
        h = h[:-1]
    h = h.lower()
    if not h or _ip_literal(h) is not None:
        return h
    if not h.isascii():
        try:
            h = idna.encode(h, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    if len(h) > 253 or not all(_LABEL.match(label) for label in h.split(".")):
        return None
    return h


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def public_suffix(host: str) -> str | None:
    """The public suffix of ``host`` ("co.uk" for "a.example.co.uk"), None for IPs."""
    h = _canonical_host(host)
    if not h or _ip_literal(h) is not None:
        return None
    return _psl().get_tld(h, wildcard=True)


def registrable_domain(host: str) -> str | None:
    """The registrable domain ("eTLD+1") of ``host``.

    None for IP literals, empty or malformed hosts, and hosts that are
    themselves a public suffix ("co.uk", "github.io"). Unknown TLDs follow the list's default rule
    ("*"), so "printer.corp.internal" gives "corp.internal".
    """
    h = _canonical_host(host)
    if not h or _ip_literal(h) is not None:
        return None
    suffix = _psl().get_tld(h, wildcard=True)
    if suffix is None or h == suffix:
        return None
    labels = h.split(".")
    return ".".join(labels[-(suffix.count(".") + 2):])


def domain_candidates(host: str) -> list[str]:
    """``host`` and its parent domains down to its registrable domain, most specific first.

    "cdn.img.example.co.uk" → ["cdn.img.example.co.uk", "img.example.co.uk",
    "example.co.uk"]. Never a bare public suffix, except when ``host`` is one
    ("github.io" → ["github.io"]). An IP literal gives [ip] (canonical form);
    an empty or malformed host gives [].
    """
    h = _canonical_host(host)
    if not h:
        return []
    ip = _ip_literal(h)
    if ip is not None:
        return [ip]
    base = registrable_domain(h)
    if base is None:
        return [h]
    labels = h.split(".")
    stop = len(labels) - base.count(".") - 1
    return [".".join(labels[i:]) for i in range(stop + 1)]


# --- platform matching beyond the registrable domain --------------------------------------
# The list's private section names suffixes run by one operator (github.io, blogspot.com,
# s3.amazonaws.com): every user site under them is hosted by that operator, so a notice about
# alice.github.io goes to the platform registered for github.io unless a more specific
# platform is registered. ICANN suffixes (com, co.uk) are never a platform's domain.

_PRIVATE_MARKER = "===BEGIN PRIVATE DOMAINS==="


@lru_cache(maxsize=1)
def _icann_psl() -> publicsuffix2.PublicSuffixList:
    lines = []
    with open(PSL_FILE, encoding="utf-8") as fh:
        for line in fh:
            if _PRIVATE_MARKER in line:
                break
            lines.append(line)
    return publicsuffix2.PublicSuffixList(lines, idna=True)


def icann_registrable_domain(host: str) -> str | None:
    """The registrable domain under the ICANN section only ("github.io" for "a.github.io")."""
    h = _canonical_host(host)
    if not h or _ip_literal(h) is not None:
        return None
    suffix = _icann_psl().get_tld(h, wildcard=True)
    if suffix is None or h == suffix:
        return None
    labels = h.split(".")
    return ".".join(labels[-(suffix.count(".") + 2):])


def is_icann_public_suffix(host: str) -> bool:
    """True for "com", "co.uk", "b.kawasaki.jp": names no single platform can own."""
    h = _canonical_host(host)
    if not h or _ip_literal(h) is not None:
        return False
    return _icann_psl().get_tld(h, wildcard=True) == h


def platform_candidates(host: str) -> list[str]:
    """``domain_candidates(host)`` followed by the private-section suffixes above it, down to
    the ICANN registrable domain, most specific first.

    "x.alice.github.io" → ["x.alice.github.io", "alice.github.io", "github.io"];
    "bucket.s3.amazonaws.com" → [..., "s3.amazonaws.com", "amazonaws.com"];
    "cdn.example.co.uk" → ["cdn.example.co.uk", "example.co.uk"] (never "co.uk").
    """
    candidates = domain_candidates(host)
    if not candidates or _ip_literal(candidates[0]) is not None:
        return candidates
    operator = icann_registrable_domain(candidates[0])
    if operator is None or operator in candidates:
        return candidates
    labels = candidates[-1].split(".")
    stop = len(labels) - operator.count(".") - 1
    return candidates + [".".join(labels[i:]) for i in range(1, stop + 1)]
