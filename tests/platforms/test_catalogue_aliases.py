"""A platform catalogue with nested YAML aliases (a "billion laughs") is refused at once with
a short message, and the console's flash message stays short (issue 20, row 10)."""
from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import func, select

from disrupt.platforms.catalogue import import_platforms
from disrupt.platforms.models import Platform
from disrupt.platforms.services import PlatformError
from tests.support.staff import staff_client
from tests.support.web import csrf_token

LAUGHS = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["platforms:", "  - name: *a8", "    domains: [bomb.example]"]) + "\n"


def test_nested_aliases_are_refused_fast_with_a_short_message(db):
    started = time.monotonic()
    with db.session() as session, pytest.raises(PlatformError) as refused:
        import_platforms(session, LAUGHS)
    assert time.monotonic() - started < 0.5
    assert "aliases" in str(refused.value) and len(str(refused.value)) < 100


def test_an_anchor_without_alias_still_imports(db):
    with db.session() as session:
        summary = import_platforms(session, "platforms:\n  - &one\n    name: Solo\n"
                                            "    domains: [solo.example]\n")
        session.commit()
    assert summary.created == ["Solo"]


def test_the_console_flashes_a_short_refusal(app, db):
    admin = staff_client(app, "admin@example.org", "admin")
    token = csrf_token(admin, "/console/platforms/")
    response = admin.post("/console/platforms/import", data={
        "csrf_token": token, "file": (io.BytesIO(LAUGHS.encode()), "platforms.yaml")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert len(admin.get_cookie("session").value) < 2000
    page = admin.get("/console/platforms/").get_data(as_text=True)
    assert "Nothing imported: YAML aliases (*name) are not accepted" in page
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Platform)) == 0


def test_a_long_refusal_is_cut_short_in_the_flash(app, db):
    admin = staff_client(app, "admin@example.org", "admin")
    token = csrf_token(admin, "/console/platforms/")
    upload = "platforms:\n  - name: " + "x" * 50_000 + "\n    colour: red\n"
    response = admin.post("/console/platforms/import", data={
        "csrf_token": token, "file": (io.BytesIO(upload.encode()), "platforms.yaml")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.status_code
    assert len(admin.get_cookie("session").value) < 2000
    page = admin.get("/console/platforms/").get_data(as_text=True)
    assert "Nothing imported: " + "x" * 200 in page and "x" * 400 not in page
