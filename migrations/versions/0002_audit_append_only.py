"""audit log append-only in the database

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

The application only ever inserts audit events. These triggers make the database refuse
anything else, so a bug or a hand-typed statement cannot rewrite history: no row is
deleted, and the one update allowed is the erasure scrub (a victim's erasure empties
`detail` and `remote_addr` of the events about their records and keeps who, what, which
record and when).
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Columns an update may never change.
FIXED = ("id", "at", "actor_id", "actor_kind", "action", "record_type", "record_id", "case_id")
MESSAGE = "audit_events is append-only: only the erasure scrub may update a row"

SQLITE = [
    f"""CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_events_scrub_only BEFORE UPDATE ON audit_events
    WHEN NOT ({' AND '.join(f'NEW.{c} IS OLD.{c}' for c in FIXED)}
              AND NEW.remote_addr IS NULL AND NEW.detail = '{{}}')
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]

POSTGRESQL = [
    f"""CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      IF {' OR '.join(f'NEW.{c} IS DISTINCT FROM OLD.{c}' for c in FIXED)}
         OR NEW.remote_addr IS NOT NULL OR NEW.detail::jsonb <> '{{}}'::jsonb THEN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_events_scrub_only")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
