"""verdicts: a picture seen on the page, network failures that last, removals re-verified

Detector rules-3 (issue 12) changed when a check may say "removed": a picture that does not
match is no longer evidence unless the URL was once seen matching, and the soft-404 rule only
applies once every picture was compared. Removals that came from a rule other than an HTTP
status or a platform placeholder URL are therefore re-verified: they go back to "being
confirmed" (removal_suspected, keeping the first time removal was seen) and are due now, so
the takedown rate counts them again only after a new check confirms them. URLs made invalid
by a single network failure are checked again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


# Rules whose removals stand as they were: what the platform's answer itself says.
KEPT_RULES = ("status_removed", "placeholder_url")


def upgrade() -> None:
    with op.batch_alter_table("reported_urls") as batch:
        batch.add_column(sa.Column("picture_confirmed_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("network_failing_since", sa.DateTime(timezone=True),
                                   nullable=True))
    now = sa.func.current_timestamp()
    urls = sa.table("reported_urls", sa.column("state"), sa.column("removed_at"),
                    sa.column("picture_confirmed_at"),
                    sa.column("removal_suspected_at"), sa.column("next_check_at"),
                    sa.column("state_reason"), sa.column("id"))
    checks = sa.table("url_checks", sa.column("id"), sa.column("reported_url_id"),
                      sa.column("verdict"), sa.column("rule"), sa.column("checked_at"))
    removing_rule = (
        sa.select(checks.c.rule)
        .where(checks.c.reported_url_id == urls.c.id, checks.c.verdict == "removed")
        .order_by(checks.c.checked_at.desc(), checks.c.id.desc()).limit(1)
        .scalar_subquery())
    op.execute(
        urls.update()
        .where(urls.c.state == "removed")
        .where(sa.or_(removing_rule.is_(None), removing_rule.not_in(KEPT_RULES)))
        .values(state="removal_suspected", removal_suspected_at=urls.c.removed_at,
                removed_at=None, next_check_at=now,
                state_reason="being confirmed again (detector rules-3)"))
    seen_matching = (
        sa.select(sa.func.min(checks.c.checked_at))
        .where(checks.c.reported_url_id == urls.c.id, checks.c.verdict == "online",
               checks.c.rule == "media_match")
        .scalar_subquery())
    op.execute(urls.update().values(picture_confirmed_at=seen_matching))
    op.execute(
        urls.update()
        .where(urls.c.state == "invalid")
        .where(urls.c.state_reason.like("%DNS%") | urls.c.state_reason.like("%dns%")
               | urls.c.state_reason.like("%resolve%"))
        .values(state="indeterminate", next_check_at=now))


def downgrade() -> None:
    with op.batch_alter_table("reported_urls") as batch:
        batch.drop_column("network_failing_since")
        batch.drop_column("picture_confirmed_at")
