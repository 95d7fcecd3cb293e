"""erasure and file modes: the contact-address confirmation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Erasure itself needs no schema change (each feature scrubs its own columns; SQLite's
secure_delete is set on every connection). The victim's contact address is confirmed by a
link before any update e-mail goes to it: one row per case that left an address.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_confirmations",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name=op.f("fk_contact_confirmations_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_contact_confirmations")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_contact_confirmations_token_sha256")),
    )
    # Addresses left before this release have no row: the worker sends them their link
    # (and, until they confirm, no more update e-mails).


def downgrade() -> None:
    op.drop_table("contact_confirmations")
