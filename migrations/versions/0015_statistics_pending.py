"""the statistics' pending URLs in a table of the dashboard's own, queued on named events,
instead of a flag on reported_urls set by a flush hook

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'statistics_pending',
        sa.Column('reported_url_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['reported_url_id'], ['reported_urls.id'],
                                name=op.f('fk_statistics_pending_reported_url_id_reported_urls'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('reported_url_id', name=op.f('pk_statistics_pending')),
    )
    op.execute("INSERT INTO statistics_pending (reported_url_id)"
               " SELECT id FROM reported_urls WHERE stats_dirty")
    op.drop_index(op.f('ix_reported_urls_stats_dirty'), table_name='reported_urls')
    # Not a batch (copy and drop) on SQLite: dropping reported_urls would cascade to the
    # check log. SQLite 3.35+ drops a column in place.
    op.execute('ALTER TABLE reported_urls DROP COLUMN stats_dirty')


def downgrade() -> None:
    op.add_column('reported_urls', sa.Column('stats_dirty', sa.Boolean(), nullable=False,
                                             server_default=sa.true()))
    op.create_index(op.f('ix_reported_urls_stats_dirty'), 'reported_urls', ['stats_dirty'],
                    unique=False)
    op.execute("UPDATE reported_urls SET stats_dirty = (id IN"
               " (SELECT reported_url_id FROM statistics_pending))")
    op.drop_table('statistics_pending')
