"""the check log's index by URL and time also holds the id and the verdict (covering: the
statistics fold reads a URL's checks in time order, ties by id, with their verdicts from the
index alone, without sorting); it replaces the index by URL and time, which it serves as well

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_url_checks_url_time_verdict', 'url_checks',
                    ['reported_url_id', 'checked_at', 'id', 'verdict'], unique=False)
    op.drop_index('ix_url_checks_url_time', table_name='url_checks')


def downgrade() -> None:
    op.create_index('ix_url_checks_url_time', 'url_checks', ['reported_url_id', 'checked_at'],
                    unique=False)
    op.drop_index('ix_url_checks_url_time_verdict', table_name='url_checks')
