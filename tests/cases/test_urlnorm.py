"""URL normalisation: table tests, refusals, and a 500-URL paste."""
from __future__ import annotations

import time

import httpx
import pytest

from disrupt.urls.normalize import (
    MAX_URL_LENGTH,
    InvalidURL,
    host_of,
    normalize_many,
    normalize_url,
)

NORMALISED = [
    # missing scheme, case, default ports, trailing dots
    ("example.com", "https://example.com/"),
    ("  example.com/page  ", "https://example.com/page"),
    ("www.example.com/a?b=1", "https://www.example.com/a?b=1"),
    ("example.com:8080/x", "https://example.com:8080/x"),
    ("//example.com/x", "https://example.com/x"),
    ("HTTPS://EXAMPLE.COM/Path", "https://example.com/Path"),
    ("HtTp://Example.Com", "http://example.com/"),
    ("https://example.com:443/", "https://example.com/"),
    ("http://example.com:80/", "http://example.com/"),
    ("http://example.com:443/", "http://example.com:443/"),
    ("https://example.com:80/", "https://example.com:80/"),
    ("https://example.com:08080/", "https://example.com:8080/"),
    ("https://example.com:/", "https://example.com/"),
    ("https://example.com./a", "https://example.com/a"),
    ("https://EXAMPLE.com.:443", "https://example.com/"),
    ("https:example.com/x", "https://example.com/x"),
    ("https:///example.com/x", "https://example.com/x"),
    ("https:\\\\example.com\\a\\b", "https://example.com/a/b"),
    ("localhost:8000/x", "https://localhost:8000/x"),
    # fragments, empty query, dot segments
    ("https://example.com/a#section", "https://example.com/a"),
    ("https://example.com/?", "https://example.com/"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/../../x", "https://example.com/x"),
    ("https://example.com/a/b/..", "https://example.com/a/"),
    ("https://example.com/%2e%2E/x", "https://example.com/x"),
    # percent-encoding
    ("https://example.com/%7euser", "https://example.com/~user"),
    ("https://example.com/%41%62c", "https://example.com/Abc"),
    ("https://example.com/a%2fb", "https://example.com/a%2Fb"),
    ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
    ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
    ("https://example.com/café", "https://example.com/caf%C3%A9"),
    ("https://example.com/a b", "https://example.com/a%20b"),
    ("https://example.com/a%20b", "https://example.com/a%20b"),
    ("https://example.com/100%", "https://example.com/100%25"),
    ("https://example.com/%zz", "https://example.com/%25zz"),
    ("https://example.com/a%2520b", "https://example.com/a%2520b"),
    ("https://example.com/{x}|^`", "https://example.com/%7Bx%7D%7C%5E%60"),
    ("https://example.com/p?q=a b&r=é", "https://example.com/p?q=a%20b&r=%C3%A9"),
    ("https://example.com/p?q=%7e&r=%2b+x", "https://example.com/p?q=~&r=%2B+x"),
    ("https://example.com/p;a=1,b:c@d!$'()*", "https://example.com/p;a=1,b:c@d!$'()*"),
    ("https://%65xample.com/", "https://example.com/"),
    # tracking parameters
    ("https://example.com/a?utm_source=x&utm_medium=y&id=3", "https://example.com/a?id=3"),
    ("https://example.com/a?UTM_Campaign=x&id=3", "https://example.com/a?id=3"),
    ("https://example.com/a?b=2&fbclid=IwAR0&a=1", "https://example.com/a?b=2&a=1"),
    ("https://example.com/?gclid=1&dclid=2&gbraid=3&wbraid=4&msclkid=5", "https://example.com/"),
    ("https://example.com/?mc_cid=1&mc_eid=2&_hsenc=3&_hsmi=4&yclid=5&twclid=6&x=1",
     "https://example.com/?x=1"),
    ("https://www.instagram.com/p/abc/?igshid=MzRlODBiNWFlZA==", "https://www.instagram.com/p/abc/"),
    ("https://twitter.com/u/status/1?ref_src=twsrc%5Etfw", "https://twitter.com/u/status/1"),
    ("https://x.com/u/status/1?s=20&t=AbC", "https://x.com/u/status/1"),
    ("https://www.youtube.com/watch?v=abc&si=xyz&t=42", "https://www.youtube.com/watch?v=abc&t=42"),
    ("https://youtu.be/abc?si=xyz", "https://youtu.be/abc"),
    ("https://open.spotify.com/track/1?si=2", "https://open.spotify.com/track/1"),
    ("https://example.com/?si=keep&t=keep&s=keep", "https://example.com/?si=keep&t=keep&s=keep"),
    ("https://example.com/?ref=keep&page=2", "https://example.com/?ref=keep&page=2"),
    ("https://example.com/?a=1&&b=2&", "https://example.com/?a=1&b=2"),
    ("https://example.com/?z=1&a=2&m=3", "https://example.com/?z=1&a=2&m=3"),
    ("https://example.com/?a=1&a=2", "https://example.com/?a=1&a=2"),
    ("https://example.com/?flag", "https://example.com/?flag"),
    # IDN
    ("https://bücher.de/", "https://xn--bcher-kva.de/"),
    ("https://BÜCHER.de/", "https://xn--bcher-kva.de/"),
    ("https://xn--bcher-kva.de/", "https://xn--bcher-kva.de/"),
    ("bücher.de/straße", "https://xn--bcher-kva.de/stra%C3%9Fe"),
    ("https://faß.de/", "https://xn--fa-hia.de/"),
    ("https://пример.рф/", "https://xn--e1afmkfd.xn--p1ai/"),
    ("https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
    ("https://example。com/", "https://example.com/"),
    ("https://ｅｘａｍｐｌｅ.com/", "https://example.com/"),
    ("https://☃.net/", "https://xn--n3h.net/"),
    # IP literal hosts
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://2130706433/", "http://127.0.0.1/"),
    ("http://0177.0.0.1/", "http://127.0.0.1/"),
    ("http://127.0.0.1./", "http://127.0.0.1/"),
    ("http://[::1]:8080/", "http://[::1]:8080/"),
    ("http://[2001:DB8:0:0:0:0:0:1]/", "http://[2001:db8::1]/"),
    ("https://[::FFFF:127.0.0.1]:443/", "https://[::ffff:7f00:1]/"),
    ("[2606:4700::1111]/x", "https://[2606:4700::1111]/x"),
    # other hosts real sites use
    ("https://a_b.example.com/", "https://a_b.example.com/"),
    ("https://a-b.example.com/", "https://a-b.example.com/"),
    ("https://ex\tample.com/pa\nth", "https://example.com/path"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_normalise(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_normalise_is_idempotent(raw: str, expected: str) -> None:
    assert normalize_url(expected) == expected


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_the_fetcher_reads_the_same_url(raw: str, expected: str) -> None:
    """No parser differential: httpx (used by the checker) sees the same host and URL."""
    parsed = httpx.URL(expected)
    assert str(parsed) == expected
    assert parsed.raw_host.decode("ascii") == host_of(expected)


REFUSED = [
    ("", "Please enter"),
    ("   ", "Please enter"),
    ("hello", "does not look like a web address"),
    ("not a url", "does not look like a web address"),
    ("/just/a/path", "does not look like a web address"),
    ("javascript:alert(1)", "https://"),
    ("JavaScript:alert(1)", "https://"),
    ("data:text/html;base64,PHNjcmlwdD4=", "https://"),
    ("ftp://example.com/file", "https://"),
    ("file:///etc/passwd", "https://"),
    ("mailto:someone@example.com", "https://"),
    ("https://user:password@example.com/", "user name or password"),
    ("https://paypal.com@evil.example/", "user name or password"),
    ("https://@example.com/", "user name or password"),
    ("user@example.com/x", "does not look like a web address"),
    ("someone@example.com", "e-mail address"),
    ("https://exa mple.com/", "site name"),
    ("https://example..com/", "site name"),
    ("https://.example.com/", "site name"),
    ("https://-example.com/", "site name"),
    ("https://exa!mple.com/", "site name"),
    ("https://xn--abc-.com/", "site name"),
    ("https://xn--zz.com/", "site name"),
    ("https:///", "no site name"),
    ("https://", "no site name"),
    ("https://1.2.3.4.5/", "site name"),
    ("https://256.1.1.1/", "site name"),
    ("https://0x1g.1/", "site name"),
    ("https://ex%FFample.com/", "site name"),
    ("https://ex%2Fample.com/", "site name"),
    ("https://[::1/", "site name"),
    ("https://[fe80::1%25eth0]/", "site name"),
    ("https://[::1]x/", "site name"),
    ("https://example.com:99999/", "port"),
    ("https://example.com:80a/", "port"),
    ("www.example.com:abc/", "port"),
    ("https://example.com/\x00", "control characters"),
    ("https://" + "a" * 64 + ".com/", "site name"),
    ("https://example.com/" + "a" * MAX_URL_LENGTH, "too long"),
    ("https://example.com/" + "a" * 10 * MAX_URL_LENGTH, "too long"),
]


@pytest.mark.parametrize(("raw", "message"), REFUSED)
def test_refused(raw: str, message: str) -> None:
    with pytest.raises(InvalidURL) as info:
        normalize_url(raw)
    text = str(info.value)
    assert message in text
    assert text[0].isupper() and text.endswith((".", ")."))


def test_invalid_url_is_a_value_error() -> None:
    assert issubclass(InvalidURL, ValueError)
    with pytest.raises(InvalidURL, match=r"it should start with https://"):
        normalize_url("hello")


def test_length_limit_is_inclusive() -> None:
    base = "https://example.com/"
    url = base + "a" * (MAX_URL_LENGTH - len(base))
    assert normalize_url(url) == url
    with pytest.raises(InvalidURL):
        normalize_url(url + "a")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Example.COM:8443/x", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("http://[::1]:8080/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("https://example.com./", "example.com"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


def test_host_of_refuses_invalid() -> None:
    with pytest.raises(InvalidURL):
        host_of("javascript:alert(1)")


# --- pasted blocks -------------------------------------------------------------------

def test_normalize_many_lines_spaces_duplicates_and_errors() -> None:
    text = """
        https://example.com/a
        example.com/a  https://example.com/b?utm_source=x
        <https://example.com/c>, "https://example.com/d";
        javascript:alert(1)
        https://EXAMPLE.com/b
        https://user:pw@example.com/
    """
    urls, errors = normalize_many(text)
    assert urls == [
        "https://example.com/a",
        "https://example.com/b",
        "https://example.com/c",
        "https://example.com/d",
    ]
    raws = [raw for raw, _ in errors]
    assert raws == ["example.com/a", "javascript:alert(1)", "https://EXAMPLE.com/b",
                    "https://user:pw@example.com/"]
    assert "already in your list" in errors[0][1]
    assert "(number 1)" in errors[0][1]
    assert "already in your list" in errors[2][1] and "(number 2)" in errors[2][1]
    assert "https://" in errors[1][1]
    assert "user name or password" in errors[3][1]


def test_normalize_many_one_refusal_per_line() -> None:
    urls, errors = normalize_many("Hi, I saw it here:\nexample.com/p/1 and there\nfoo bar")
    assert urls == ["https://example.com/p/1"]
    assert [raw for raw, _ in errors] == ["Hi, I saw it here:", "and there", "foo bar"]
    assert all("https://" in message for _, message in errors)


def test_normalize_many_empty() -> None:
    assert normalize_many("") == ([], [])
    assert normalize_many(" \n\t \n") == ([], [])


def test_normalize_many_500_urls() -> None:
    raws = []
    for i in range(500):
        variant = i % 5
        if variant == 0:
            raws.append(f"https://site{i}.example.com/img/{i}.jpg")
        elif variant == 1:
            raws.append(f"site{i}.example.org/p?id={i}&utm_source=share")
        elif variant == 2:
            raws.append(f"HTTP://Site{i}.Example.NET:80/a/../v/{i}#top")
        elif variant == 3:
            raws.append(f"https://bücher{i}.de/%7e{i}?fbclid=x")
        else:
            raws.append(f"https://[2001:db8::{i:x}]/x/{i}")
    duplicates = [raws[7], raws[100], "https://SITE5.example.com/img/5.jpg#again"]
    invalid = ["ftp://example.com/", "javascript:void(0)", "https://a..b/"]
    text = "\n".join(raws[:250]) + "\n" + " ".join(raws[250:] + duplicates + invalid)

    started = time.monotonic()
    urls, errors = normalize_many(text)
    took = time.monotonic() - started

    assert len(urls) == 500
    assert len(set(urls)) == 500
    assert urls == [normalize_url(r) for r in raws]  # order kept
    assert urls[0] == "https://site0.example.com/img/0.jpg"
    assert urls[1] == "https://site1.example.org/p?id=1"
    assert urls[2] == "http://site2.example.net/v/2"
    assert urls[3] == "https://" + "bücher3.de".encode("idna").decode() + "/~3"
    assert urls[4] == "https://[2001:db8::4]/x/4"
    # The refused words of one line are one refusal, not one per word.
    assert [raw for raw, _ in errors] == duplicates + [" ".join(invalid)]
    assert all(message for _, message in errors)
    assert took < 2.0
