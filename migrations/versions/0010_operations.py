"""worker heartbeats

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker_heartbeats',
        sa.Column('worker', sa.String(length=64), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('worker', name=op.f('pk_worker_heartbeats')),
    )
    op.create_index(op.f('ix_worker_heartbeats_seen_at'), 'worker_heartbeats', ['seen_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_worker_heartbeats_seen_at'), table_name='worker_heartbeats')
    op.drop_table('worker_heartbeats')
