"""Shared fixtures: real parts only (SQLite file, PostgreSQL server, Chromium)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.support.apps import (
    PG_ADMIN_URL,
    make_test_app,
    pg_admin_conninfo,
    truncate_postgres,
)

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium_path()
    if path is None:
        if os.environ.get("DISRUPT_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium is required (DISRUPT_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("Chromium not installed: apt-get install -y chromium")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    """One headless Chromium for the session, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# --- databases: every database test runs on a SQLite file and on the PostgreSQL server ---

@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    try:
        admin = psycopg.connect(pg_admin_conninfo(), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("DISRUPT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (DISRUPT_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    name = f"disrupt_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    from disrupt.migrate import upgrade

    upgrade(url)
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, then the PostgreSQL server."""
    if request.param == "sqlite":
        from disrupt.migrate import upgrade

        url = f"sqlite:///{tmp_path / 'disrupt.sqlite3'}"
        upgrade(url)
        yield url
    else:
        url = request.getfixturevalue("postgres_server_url")
        truncate_postgres(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    from disrupt.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'disrupt.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path):
    app = make_test_app(database_url, tmp_path)
    yield app
    app.extensions["disrupt.db"].dispose()


@pytest.fixture
def db(app):
    return app.extensions["disrupt.db"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app):
    """The test app served over real HTTP on 127.0.0.1; yields the base URL."""
    from tests.support.live import serve

    with serve(app) as base_url:
        yield base_url
