"""Building the app and reaching the PostgreSQL server, for conftest and for tests that need
an app or a database of their own (a second app on the same database, a worker process)."""
from __future__ import annotations

import os
from typing import Any

PG_ADMIN_URL = os.environ.get(
    "DISRUPT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def pg_admin_conninfo() -> str:
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL)
    return (f"host={url.host or '127.0.0.1'} port={url.port or 5432} "
            f"user={url.username or 'postgres'} dbname={url.database or 'postgres'}")



def truncate_postgres(url: str) -> None:
    from sqlalchemy import text

    import disrupt.schema  # noqa: F401
    from disrupt.db import Base, make_engine

    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_test_app(database_url: str, tmp_path: Any, **overrides: object) -> Any:
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


def monitor_config(**overrides: Any) -> dict[str, Any]:
    """The settings' defaults (what create_app would give) for loopback tests."""
    from disrupt.config import SETTINGS

    config = {name: default for name, (default, _) in SETTINGS.items()}
    config.update(ALLOW_LOOPBACK=True, CHECK_TIMEOUT=1.0, HOST_SPACING_SECONDS=0.0,
                  HOST_CONCURRENCY=4, CHECK_CONCURRENCY=8, CHECK_MAX_BYTES=300_000,
                  CHECK_MAX_MEDIA_BYTES=300_000, USER_AGENT="DISRUPT-checker/test")
    config.update(overrides)
    return config
