"""platform replies read from the mailbox

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

The e-mails the worker reads over IMAP (threaded to a removal request with a proposed
status, or in triage) and how far it read each folder (UIDVALIDITY, last UID).
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("sender", sa.String(length=300), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("problem", sa.String(length=300), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("proposed_status", sa.String(length=20), nullable=True),
        sa.Column("proposed_reason", sa.Text(), nullable=True),
        sa.Column("platform_reference", sa.String(length=120), nullable=True),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["removal_requests.id"], ondelete="CASCADE",
                                name=op.f("fk_mailbox_messages_request_id_removal_requests")),
        sa.ForeignKeyConstraint(["reply_id"], ["request_replies.id"], ondelete="SET NULL",
                                name=op.f("fk_mailbox_messages_reply_id_request_replies")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_mailbox_messages_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_messages")),
        sa.UniqueConstraint("folder", "uidvalidity", "uid",
                            name=op.f("uq_mailbox_messages_folder_uidvalidity_uid")),
    )
    op.create_index(op.f("ix_mailbox_messages_request_id"), "mailbox_messages", ["request_id"])
    op.create_index(op.f("ix_mailbox_messages_state"), "mailbox_messages", ["state"])
    op.create_table(
        "mailbox_cursors",
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("folder", name=op.f("pk_mailbox_cursors")),
    )


def downgrade() -> None:
    op.drop_table("mailbox_cursors")
    op.drop_index(op.f("ix_mailbox_messages_state"), table_name="mailbox_messages")
    op.drop_index(op.f("ix_mailbox_messages_request_id"), table_name="mailbox_messages")
    op.drop_table("mailbox_messages")
