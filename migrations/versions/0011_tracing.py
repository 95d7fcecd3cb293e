"""host traces (who hosts a reported URL)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'host_traces',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('origin', sa.String(length=300), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('addresses', sa.JSON(), nullable=False),
        sa.Column('network', sa.JSON(), nullable=True),
        sa.Column('registrar', sa.JSON(), nullable=True),
        sa.Column('cdn', sa.String(length=60), nullable=True),
        sa.Column('cdn_evidence', sa.String(length=200), nullable=True),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('problems', sa.JSON(), nullable=False),
        sa.Column('traced_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('next_trace_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_host_traces')),
        sa.UniqueConstraint('host', name=op.f('uq_host_traces_host')),
    )
    op.create_index(op.f('ix_host_traces_next_trace_at'), 'host_traces', ['next_trace_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_host_traces_next_trace_at'), table_name='host_traces')
    op.drop_table('host_traces')
