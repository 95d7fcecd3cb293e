"""Import every feature's models so the metadata (and Alembic) sees all tables."""
from disrupt.accounts.models import AuditEvent, User
from disrupt.cases.models import Case, MediaHash, Message, Note, Referral, ReportedURL
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import Platform, PlatformDomain, RemovalRequest

__all__ = [
    "AuditEvent",
    "Case",
    "MediaHash",
    "Message",
    "Note",
    "Platform",
    "PlatformDomain",
    "Referral",
    "RemovalRequest",
    "ReportedURL",
    "URLCheck",
    "User",
]
