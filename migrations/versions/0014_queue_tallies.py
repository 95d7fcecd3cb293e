"""the queue without counting the backlog: case tallies, the waiting deadline on the case,
indexes in the queue's order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

ORDER = ('priority DESC', '(waiting_deadline IS NULL)', 'waiting_deadline', 'created_at', 'id')
KEYED = ('status', 'priority', 'assignee_id')
OPEN = "status IN ('new', 'in_progress')"
NOT_ERASED = "status != 'erased'"
WAITING = ("removal_requests r WHERE r.case_id = cases.id"
           " AND r.status IN ('sent', 'acknowledged') AND r.deadline_at IS NOT NULL")
URL_UP = ("EXISTS (SELECT 1 FROM removal_request_urls l JOIN reported_urls u ON u.id = l.url_id"
          " WHERE l.request_id = r.id AND u.state != 'removed')")


def _index(name: str, columns: tuple[str, ...], where: str | None = None) -> None:
    condition = {} if where is None else {'sqlite_where': sa.text(where),
                                          'postgresql_where': sa.text(where)}
    op.create_index(name, 'cases', [sa.text(c) for c in columns], unique=False, **condition)


def upgrade() -> None:
    op.add_column('cases', sa.Column('waiting_deadline', sa.DateTime(timezone=True),
                                     nullable=True))
    op.add_column('cases', sa.Column('overdue_from', sa.DateTime(timezone=True),
                                     nullable=True))
    op.execute(
        f"UPDATE cases SET waiting_deadline = (SELECT min(r.deadline_at) FROM {WAITING}),"
        f" overdue_from = (SELECT min(r.deadline_at) FROM {WAITING} AND r.sent_at IS NOT NULL"
        f" AND {URL_UP})"
        " WHERE id IN (SELECT case_id FROM removal_requests"
        " WHERE status IN ('sent', 'acknowledged') AND deadline_at IS NOT NULL)")
    op.drop_index('ix_cases_queue', table_name='cases')
    _index('ix_cases_queue_open', (*ORDER, 'status', 'assignee_id', 'overdue_from'), OPEN)
    _index('ix_cases_queue_any', (*ORDER, 'status', 'assignee_id', 'overdue_from'),
           NOT_ERASED)
    _index('ix_cases_overdue_from', ('overdue_from', *KEYED, 'created_at'),
           'overdue_from IS NOT NULL')
    _index('ix_cases_age', ('created_at', *KEYED, 'overdue_from'))
    op.create_table(
        'case_tallies',
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('assignee_key', sa.Integer(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('status', 'priority', 'assignee_key',
                                name=op.f('pk_case_tallies')),
    )
    op.execute(
        "INSERT INTO case_tallies (status, priority, assignee_key, cases)"
        " SELECT status, priority, coalesce(assignee_id, 0), count(*) FROM cases"
        " GROUP BY status, priority, coalesce(assignee_id, 0)")


def downgrade() -> None:
    op.drop_table('case_tallies')
    op.drop_index('ix_cases_age', table_name='cases')
    op.drop_index('ix_cases_overdue_from', table_name='cases')
    op.drop_index('ix_cases_queue_any', table_name='cases')
    op.drop_index('ix_cases_queue_open', table_name='cases')
    op.create_index('ix_cases_queue', 'cases', ['status', 'priority', 'created_at'],
                    unique=False)
    with op.batch_alter_table('cases') as batch_op:
        batch_op.drop_column('overdue_from')
        batch_op.drop_column('waiting_deadline')
