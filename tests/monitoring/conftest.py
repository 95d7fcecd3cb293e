"""Fixtures for the monitoring tests: a database without the web app, pictures."""
from __future__ import annotations

import pytest

from disrupt.db import Database
from disrupt.demo.seed import demo_image
from disrupt.listeners import connect


@pytest.fixture
def mdb(database_url: str):
    """A database without an app: the listeners connected as the worker connects them."""
    connect()
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def case_image() -> bytes:
    return demo_image(101)


@pytest.fixture(scope="session")
def other_image() -> bytes:
    return demo_image(202)
