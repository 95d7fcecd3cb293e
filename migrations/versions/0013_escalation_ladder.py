"""escalation ladder: one step per rung taken beyond the platform (issue 16, item 3)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'escalation_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('reported_url_id', sa.Integer(), nullable=False),
        sa.Column('rung', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('form_url', sa.String(length=500), nullable=True),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('reference', sa.String(length=40), nullable=False),
        sa.Column('prepared_text', sa.Text(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('submitted_by_id', sa.Integer(), nullable=True),
        sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('their_reference', sa.String(length=120), nullable=True),
        sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome_note', sa.Text(), nullable=True),
        sa.Column('outcome_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                                name=op.f('fk_escalation_steps_case_id_cases'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reported_url_id'], ['reported_urls.id'],
                                name=op.f('fk_escalation_steps_reported_url_id_reported_urls'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['request_id'], ['removal_requests.id'],
                                name=op.f('fk_escalation_steps_request_id_removal_requests'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_escalation_steps_created_by_id_users')),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'],
                                name=op.f('fk_escalation_steps_submitted_by_id_users')),
        sa.ForeignKeyConstraint(['outcome_by_id'], ['users.id'],
                                name=op.f('fk_escalation_steps_outcome_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_steps')),
        sa.UniqueConstraint('reported_url_id', 'rung',
                            name=op.f('uq_escalation_steps_reported_url_id_rung')),
    )
    for column in ('case_id', 'reported_url_id', 'request_id', 'deadline_at'):
        op.create_index(op.f(f'ix_escalation_steps_{column}'), 'escalation_steps', [column],
                        unique=False)


def downgrade() -> None:
    for column in ('deadline_at', 'request_id', 'reported_url_id', 'case_id'):
        op.drop_index(op.f(f'ix_escalation_steps_{column}'), table_name='escalation_steps')
    op.drop_table('escalation_steps')
