"""POST /language goes back only to a path on this site, whatever `next` holds (issue 20,
row 1): tabs, newlines, backslashes, `//` and schemes never make an open redirect or a 500."""
from __future__ import annotations

import pytest

from tests.support.web import post_form


@pytest.mark.parametrize("target", [
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "/case\r\nSet-Cookie: x=1",
    "/\\evil.example/",
    "\\\\evil.example/",
    "//evil.example/",
    "/ /evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\x00/evil.example/",
    "evil.example",
])
def test_next_outside_this_site_goes_home(client, target):
    response = post_form(client, "/language", {"language": "fr", "next": target},
                         token_from="/")
    assert response.status_code == 302
    assert response.location == "/"


def test_next_on_this_site_is_kept(client):
    response = post_form(client, "/language", {"language": "fr", "next": "/case/follow?x=1"},
                         token_from="/")
    assert response.status_code == 302 and response.location == "/case/follow?x=1"
