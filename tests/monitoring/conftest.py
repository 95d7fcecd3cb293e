"""Helpers for the monitoring tests: settings without the web app, seeded URLs, pictures."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import pytest

from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.db import Database
from disrupt.demo.seed import demo_image
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.urls.normalize import host_of


def monitor_config(**overrides: Any) -> dict[str, Any]:
    """The settings' defaults (what create_app would give) for loopback tests."""
    from disrupt.config import SETTINGS

    config = {name: default for name, (default, _) in SETTINGS.items()}
    config.update(ALLOW_LOOPBACK=True, CHECK_TIMEOUT=1.0, HOST_SPACING_SECONDS=0.0,
                  HOST_CONCURRENCY=4, CHECK_CONCURRENCY=8, CHECK_MAX_BYTES=300_000,
                  CHECK_MAX_MEDIA_BYTES=300_000, USER_AGENT="DISRUPT-checker/test")
    config.update(overrides)
    return config


@pytest.fixture
def mdb(database_url: str):
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def case_image() -> bytes:
    return demo_image(101)


@pytest.fixture(scope="session")
def other_image() -> bytes:
    return demo_image(202)


def seed_case(session, *, urls: list[str], now: datetime, images: list[bytes] = (),
              platform_id: int | None = None, status: str = "in_progress") -> Case:
    case = Case(reference=f"T{secrets.token_hex(5)}", status=status, created_at=now,
                updated_at=now)
    session.add(case)
    for data in images:
        h = hash_image_bytes(data)
        session.add(MediaHash(case=case, kind="image", pdq=h["pdq"], pdq_quality=h["pdq_quality"],
                              phash=h["phash"], sha256=h["sha256"], pipeline=h["pipeline"],
                              created_at=now))
    for url in urls:
        session.add(ReportedURL(case=case, url=url, host=host_of(url), platform_id=platform_id,
                                state="pending", next_check_at=now, created_at=now))
    session.flush()
    return case
