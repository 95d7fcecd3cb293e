"""Registrable domains and platform-matching candidates, from the bundled public suffix list."""
from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import publicsuffix2
import publicsuffixlist
import pytest

from disrupt.platforms import hosts
from disrupt.platforms.hosts import domain_candidates, public_suffix, registrable_domain

REGISTRABLE = [
    ("example.com", "example.com"),
    ("www.example.com", "example.com"),
    ("a.b.c.example.com", "example.com"),
    ("WWW.Example.COM", "example.com"),
    ("www.example.com.", "example.com"),
    ("  example.com  ", "example.com"),
    ("example.co.uk", "example.co.uk"),
    ("cdn.img.example.co.uk", "example.co.uk"),
    ("co.uk", None),
    ("uk", None),
    ("com", None),
    ("bbc.co.uk", "bbc.co.uk"),
    ("foo.bar.com.au", "bar.com.au"),
    ("city.kawasaki.jp", "city.kawasaki.jp"),         # exception rule !city.kawasaki.jp
    ("www.city.kawasaki.jp", "city.kawasaki.jp"),
    ("a.b.kawasaki.jp", "a.b.kawasaki.jp"),           # wildcard rule *.kawasaki.jp
    ("b.kawasaki.jp", None),
    # private section: each user's site is its own registrable domain
    ("github.io", None),
    ("alice.github.io", "alice.github.io"),
    ("www.alice.github.io", "alice.github.io"),
    ("blogspot.com", None),
    ("someone.blogspot.com", "someone.blogspot.com"),
    ("img.someone.blogspot.com", "someone.blogspot.com"),
    # blogspot.co.uk is no longer on the list (it was in the 2019 snapshot)
    ("someone.blogspot.co.uk", "blogspot.co.uk"),
    ("bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"),
    ("app.herokuapp.com", "app.herokuapp.com"),
    # IDN: punycode in, punycode out; Unicode converted
    ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("www.bücher.de", "xn--bcher-kva.de"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("www.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
    ("xn--p1ai", None),                                # .рф itself
    ("foo.xn--55qx5d.cn", "foo.xn--55qx5d.cn"),        # 公司.cn is a public suffix
    ("xn--55qx5d.cn", None),
    # unknown TLDs follow the default "*" rule
    ("printer.corp.internal", "corp.internal"),
    ("localhost", None),
    # not domain names
    ("127.0.0.1", None),
    ("::1", None),
    ("[2001:db8::1]", None),
    ("", None),
]


@pytest.mark.parametrize(("host", "expected"), REGISTRABLE)
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected


CANDIDATES = [
    ("cdn.img.example.co.uk", ["cdn.img.example.co.uk", "img.example.co.uk", "example.co.uk"]),
    ("example.co.uk", ["example.co.uk"]),
    ("co.uk", ["co.uk"]),
    ("www.example.com", ["www.example.com", "example.com"]),
    ("WWW.EXAMPLE.COM.", ["www.example.com", "example.com"]),
    ("a.b.c.d.example.com", ["a.b.c.d.example.com", "b.c.d.example.com", "c.d.example.com",
                             "d.example.com", "example.com"]),
    ("github.io", ["github.io"]),
    ("alice.github.io", ["alice.github.io"]),
    ("x.alice.github.io", ["x.alice.github.io", "alice.github.io"]),
    ("img.someone.blogspot.com", ["img.someone.blogspot.com", "someone.blogspot.com"]),
    ("www.bücher.de", ["www.xn--bcher-kva.de", "xn--bcher-kva.de"]),
    ("www.city.kawasaki.jp", ["www.city.kawasaki.jp", "city.kawasaki.jp"]),
    ("127.0.0.1", ["127.0.0.1"]),
    ("[::1]", ["::1"]),
    ("2001:DB8::1", ["2001:db8::1"]),
    ("localhost", ["localhost"]),
    ("", []),
]


@pytest.mark.parametrize(("host", "expected"), CANDIDATES)
def test_domain_candidates(host: str, expected: list[str]) -> None:
    assert domain_candidates(host) == expected


@pytest.mark.parametrize("host", ["cdn.img.example.co.uk", "x.y.alice.github.io",
                                  "a.b.someone.blogspot.com", "deep.www.bbc.co.uk"])
def test_candidates_never_include_a_bare_public_suffix(host: str) -> None:
    candidates = domain_candidates(host)
    suffix = public_suffix(host)
    assert suffix not in candidates
    assert candidates[-1] == registrable_domain(host)
    assert all(host.endswith(c) for c in candidates)


def test_public_suffix() -> None:
    assert public_suffix("a.example.co.uk") == "co.uk"
    assert public_suffix("alice.github.io") == "github.io"
    assert public_suffix("10.0.0.1") is None


@pytest.mark.parametrize("host", ["exa\u2028mple.com", "ex\u200dample.com", "a\x00b.com",
                                  "exa mple.com", "example..com", "-x.example.com", "a/b.com"])
def test_malformed_hosts(host: str) -> None:
    assert registrable_domain(host) is None
    assert domain_candidates(host) == []
    assert public_suffix(host) is None


def test_ignored_code_points_are_removed() -> None:
    assert registrable_domain("www.ex\u200bample.com") == "example.com"  # UTS #46 ignores ZWSP


def test_suffix_list_is_read_from_the_bundled_file_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """publicsuffix2 only touches the network in fetch(); the module never calls it."""
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(publicsuffix2, "urlopen", no_network)
    monkeypatch.setattr(publicsuffix2, "fetch", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    hosts._psl.cache_clear()
    try:
        assert registrable_domain("www.example.co.uk") == "example.co.uk"
    finally:
        hosts._psl.cache_clear()
    bundled = Path(hosts.PSL_FILE)
    assert bundled.is_file() and bundled.parent == Path(publicsuffixlist.__file__).parent


def test_suffix_list_is_a_recent_snapshot() -> None:
    """Hosting suffixes added to the list since 2019 (Cloudflare R2 and Pages, Vercel,
    Netlify) keep each user's site its own registrable domain; a stale list would merge them."""
    version = next(line for line in Path(hosts.PSL_FILE).read_text(encoding="utf-8").splitlines()
                   if line.startswith("// VERSION:"))
    assert version.split()[2] >= "2026-10-22"
    for host, domain in [("pub-abc123.r2.dev", "pub-abc123.r2.dev"),
                         ("files.alice.pages.dev", "alice.pages.dev"),
                         ("leak.vercel.app", "leak.vercel.app"),
                         ("x.netlify.app", "x.netlify.app")]:
        assert registrable_domain(host) == domain
    assert hosts.platform_candidates("files.alice.pages.dev") == [
        "files.alice.pages.dev", "alice.pages.dev", "pages.dev"]
