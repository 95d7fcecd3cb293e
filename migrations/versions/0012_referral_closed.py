"""a referral can be closed (when, by whom, its outcome)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot add a constraint to a table; a batch copy would drop `referrals` and so
    # cascade to `evidence_holds`. A REFERENCES clause in ADD COLUMN does neither.
    inline = op.get_bind().dialect.name == 'sqlite'
    op.add_column('referrals', sa.Column('closed_at', sa.DateTime(timezone=True),
                                         nullable=True))
    op.add_column('referrals', sa.Column(
        'closed_by_id', sa.Integer(),
        sa.ForeignKey('users.id', name=op.f('fk_referrals_closed_by_id_users')),
        nullable=True), inline_references=inline)
    op.add_column('referrals', sa.Column('outcome', sa.Text(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('fk_referrals_closed_by_id_users'), 'referrals',
                           type_='foreignkey')
    for column in ('outcome', 'closed_by_id', 'closed_at'):
        op.drop_column('referrals', column)
