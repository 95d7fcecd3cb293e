"""evidence: captures, the chain of custody, picture consents and legal holds

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Captures are WARC files encrypted in the instance's evidence/ folder; the database keeps
their digests, the hash-chained custody log, the victim's consent to keep picture bytes and
the caseworkers' legal holds.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, **kw: str) -> sa.ForeignKeyConstraint:
    other = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target],
                                   name=op.f(f"fk_{table}_{column}_{other}"), **kw)


def upgrade() -> None:
    op.create_table(
        "custody_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=True),
        sa.Column("capture_sha256", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_custody_log_entry_hash")),
        # Two entries chained on the same one would fork the log.
        sa.UniqueConstraint("previous_hash", name=op.f("uq_custody_log_previous_hash")),
    )
    op.create_table(
        "evidence_picture_consents",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("keep_pictures", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        _fk("evidence_picture_consents", "case_id", "cases.id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_evidence_picture_consents")),
    )
    op.create_table(
        "evidence_captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reported_url_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("captured_by_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("final_url", sa.String(length=2048), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("file_name", sa.String(length=120), nullable=True),
        sa.Column("pictures", sa.JSON(), nullable=False),
        sa.Column("picture_bytes_kept", sa.Boolean(), nullable=False),
        _fk("evidence_captures", "captured_by_id", "users.id"),
        _fk("evidence_captures", "case_id", "cases.id", ondelete="CASCADE"),
        _fk("evidence_captures", "reported_url_id", "reported_urls.id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_captures")),
    )
    for column in ("captured_at", "case_id", "reported_url_id", "status"):
        op.create_index(op.f(f"ix_evidence_captures_{column}"), "evidence_captures", [column])
    op.create_table(
        "evidence_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_id", sa.Integer(), nullable=True),
        _fk("evidence_holds", "case_id", "cases.id", ondelete="CASCADE"),
        _fk("evidence_holds", "lifted_by_id", "users.id"),
        _fk("evidence_holds", "placed_by_id", "users.id"),
        _fk("evidence_holds", "referral_id", "referrals.id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_holds")),
    )
    for column in ("case_id", "referral_id"):
        op.create_index(op.f(f"ix_evidence_holds_{column}"), "evidence_holds", [column])


def downgrade() -> None:
    op.drop_table("evidence_holds")
    op.drop_table("evidence_captures")
    op.drop_table("evidence_picture_consents")
    op.drop_table("custody_log")
