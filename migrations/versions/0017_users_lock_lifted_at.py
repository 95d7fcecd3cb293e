"""an administrator's unlock lifts the locks that failures put on an account: failed log-in
steps before `users.lock_lifted_at` no longer count (per client address or from anywhere)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('lock_lifted_at', sa.DateTime(timezone=True),
                                     nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('lock_lifted_at')
