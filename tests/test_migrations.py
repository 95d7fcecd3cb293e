"""Migrations build the schema from empty on SQLite and PostgreSQL, and match the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import disrupt.schema  # noqa: F401
from disrupt.db import Base, make_engine
from disrupt.migrate import alembic_config, current_heads


def test_upgrade_from_empty_builds_every_table_at_head(database_url):
    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
    assert current_heads(database_url) == heads
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()
