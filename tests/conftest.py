"""Shared fixtures: real parts only (SQLite file, PostgreSQL server, Chromium)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

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

PG_ADMIN_URL = os.environ.get(
    "DISRUPT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_admin_conninfo() -> str:
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL)
    return (f"host={url.host or '127.0.0.1'} port={url.port or 5432} "
            f"user={url.username or 'postgres'} dbname={url.database or 'postgres'}")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    try:
        admin = psycopg.connect(_pg_admin_conninfo(), autocommit=True, connect_timeout=3)
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


def _truncate_postgres(url: str) -> None:
    from sqlalchemy import text

    import disrupt.models  # noqa: F401
    from disrupt.db import Base, make_engine

    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


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
        _truncate_postgres(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    from disrupt.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'disrupt.sqlite3'}"
    upgrade(url)
    return url


def make_test_app(database_url: str, tmp_path, **overrides: object):
    from disrupt import create_app

    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "ALLOW_LOOPBACK": True,
        "MAIL_TRANSPORT": "outbox",
        "CHECK_TIMEOUT": 5.0,
        "CHECK_FIRST_DELAY_MINUTES": 0.0,  # tests check a new URL at once
    }
    config.update(overrides)
    return create_app(config)


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
