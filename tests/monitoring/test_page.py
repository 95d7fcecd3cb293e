"""Reading pages with the HTML5 parser: every picture in page order, and linear time on a
megabyte of hostile markup."""
from __future__ import annotations

import time

import pytest

from disrupt.monitoring import rules as R
from disrupt.monitoring.page import MAX_DEPTH, PARSE_LIMIT, read_page

BASE = "http://forum.example/t/123/holiday"
MEGABYTE = 1_000_000


def test_pictures_in_page_order_from_every_source():
    body = b"""<!doctype html><html><head>
      <meta property="og:image" content="https://cdn.example/og.jpg">
      <meta name="twitter:image" content="/tw.jpg">
      <link rel="image_src" href="/linked.jpg">
      <link rel="icon" href="/favicon.ico">
    </head><body>
      <img src="/logo.png" alt="logo">
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/lazy.jpg">
      <img data-lazy-src="lazy2.jpg"><img data-original="//img.example/orig.jpg">
      <img srcset="/s-320.jpg 320w, /s-1280.jpg 1280w, /s-640.jpg 640w" src="/s-320.jpg">
      <img data-srcset="/d-1x.jpg 1x, /d-2x.jpg 2x">
      <picture><source srcset="/p.avif 1x, /p@2x.avif 2x" type="image/avif">
        <img src="/p.jpg"></picture>
      <video poster="/poster.jpg"><source src="/clip.mp4"></video>
      <img src="/logo.png"><img src="javascript:alert(1)"><img src="  /spaced.jpg  ">
      <script>var x = '<img src="/not-in-script.jpg">';</script>
    </body></html>"""
    page = read_page(body, BASE)
    h = "http://forum.example"
    assert page.pictures == [
        "https://cdn.example/og.jpg", f"{h}/tw.jpg", f"{h}/linked.jpg", f"{h}/logo.png",
        f"{h}/lazy.jpg", f"{h}/t/123/lazy2.jpg", "http://img.example/orig.jpg",
        f"{h}/s-1280.jpg", f"{h}/s-320.jpg", f"{h}/d-2x.jpg", f"{h}/p@2x.avif", f"{h}/p.jpg",
        f"{h}/poster.jpg", f"{h}/spaced.jpg",
    ]


def test_base_href_title_text_and_password():
    body = (b'<html><head><base href="https://static.example/files/"><title> A &amp; B '
            b'</title><style>.x{color:red}</style></head><body><p>Hello <b>there</b></p>'
            b'<img src="a.jpg"><form><input type="PASSWORD" name="p"></form>'
            b'<script>secret words</script><noscript>hidden</noscript></body></html>')
    page = read_page(body, BASE)
    assert page.pictures == ["https://static.example/files/a.jpg"]
    assert page.title == "A & B"
    assert page.password_input is True
    assert "Hello" in page.text and "there" in page.text
    assert "secret" not in page.text and "color" not in page.text and "hidden" not in page.text
    assert read_page(b"<input type=text>", BASE).password_input is False


def test_markers_are_read_in_the_visible_text_only():
    body = (b"<html><body><p>Holiday photos</p><script>i18n={gone:\"This content isn't "
            b"available\"}</script></body></html>")
    assert R.marker_found(body, ["This content isn't available"]) is None
    shown = b"<p>This   content isn&#39;t\n available</p>"
    assert R.marker_found(shown, ["this content isn't available"]) == \
        "this content isn't available"


def _adversarial(size: int) -> dict[str, bytes]:
    """Shapes that made the old regular expressions backtrack (quadratic or worse)."""
    def fill(unit: bytes) -> bytes:
        return (unit * (size // len(unit) + 1))[:size]

    nested = b"<div>" * (size // 10) + b"x" + b"</div>" * (size // 12)
    unique = b"".join(b'<b id="%d">' % i for i in range(size // 10))
    return {
        "unclosed_img": fill(b"<img "),
        "unclosed_script": fill(b"<script>"),
        "unclosed_title": fill(b"<title>"),
        "unclosed_style": fill(b"<style>a"),
        "attribute_soup": b"<img " + fill(b'a="b" c=d e=\'f\' g ')[: size - 5],
        "unclosed_quote": b'<img src="' + fill(b"x ")[: size - 10],
        "comment_soup": fill(b"<!--<img src=x>"),
        "input_soup": fill(b"<input type=passwor"),
        "meta_soup": fill(b"<meta property=og:image content="),
        "deep_nesting": nested[:size],
        "nested_lists": fill(b"<ul><li>"),
        "nested_tables": fill(b"<table><tr><td>"),
        "formatting_soup": unique[:size],
        "end_tag_soup": b"<span>" * 250 + fill(b"</zz>")[: size - 1500],
        "comment_soup_deep": fill(b"<!--<div>-->"),
    }


def _cpu(body: bytes) -> float:
    start = time.process_time()
    page = read_page(body, BASE)
    R.words_of(page.text)
    R.fingerprint(BASE, False, body, BASE)
    R.login_wall(BASE + "/login", True, body)
    return time.process_time() - start


@pytest.mark.parametrize("shape", sorted(_adversarial(16)))
def test_a_megabyte_of_hostile_markup_is_read_in_linear_time(shape: str):
    small = _adversarial(MEGABYTE // 4)[shape]
    large = _adversarial(MEGABYTE)[shape]
    assert len(large) >= 1_000_000 - 16
    _cpu(small)  # warm up
    one, four = min(_cpu(small) for _ in range(2)), min(_cpu(large) for _ in range(2))
    # Linear: four times the input costs about four times the CPU (quadratic would be 16).
    assert four < 8 * max(one, 0.005), (shape, one, four)
    assert four < 2.0, (shape, four)  # a safety net only: the old regexes took minutes


def test_only_the_parse_limit_is_read():
    body = b"<p>" + b"word " * 10 + b"</p>" + b" " * (PARSE_LIMIT + 10) + b"<img src=late.jpg>"
    page = read_page(body, BASE)
    assert page.pictures == [] and page.truncated


def test_pages_nested_deeper_than_browsers_go_are_read_up_to_there():
    shallow = b"<div>" * (MAX_DEPTH - 2) + b'<img src="/in.jpg">' + b"</div>" * MAX_DEPTH
    page = read_page(shallow + b'<script>"<div><div><div>"</script><img src="/after.jpg">', BASE)
    assert page.pictures == ["http://forum.example/in.jpg", "http://forum.example/after.jpg"]
    assert not page.truncated
    deep = b"<div>" * (MAX_DEPTH + 1) + b'<img src="/deep.jpg">'
    page = read_page(b'<img src="/top.jpg">' + deep, BASE)
    assert page.pictures == ["http://forum.example/top.jpg"] and page.truncated
    # Comments and implicitly closed elements do not count as nesting.
    commented = b"<!--<div>-->" * (MAX_DEPTH * 2) + b'<img src="/c.jpg">'
    assert read_page(commented, BASE).pictures == ["http://forum.example/c.jpg"]
    flat = b"<ul>" + b"<li><p>item" * 5000 + b'</ul><img src="/end.jpg">'
    assert read_page(flat, BASE).pictures == ["http://forum.example/end.jpg"]


def test_srcset_is_read_as_the_standard_says():
    from disrupt.monitoring.page import SRCSET_LIMIT, srcset_candidates

    cdn = "https://res.cdn.example/image/upload"
    assert srcset_candidates(f"{cdn}/w_320,c_fill/a.jpg 320w, {cdn}/w_1280,c_fill/a.jpg 1280w") \
        == [(f"{cdn}/w_320,c_fill/a.jpg", "320w"), (f"{cdn}/w_1280,c_fill/a.jpg", "1280w")]
    assert srcset_candidates("a.jpg,, b.jpg 2x ,c.jpg (1, 2) 3x") == [
        ("a.jpg", ""), ("b.jpg", "2x"), ("c.jpg", "(1, 2) 3x")]
    body = f'<img srcset="{cdn}/w_320,c_fill/a.jpg 320w, {cdn}/w_1280,c_fill/a.jpg 1280w">'
    assert read_page(body.encode(), BASE).pictures == [f"{cdn}/w_1280,c_fill/a.jpg"]
    # A hostile srcset is read up to a bound, in linear time.
    huge = "x " * (SRCSET_LIMIT * 50) + ", late.jpg 9999w"
    assert all(url != "late.jpg" for url, _ in srcset_candidates(huge))
