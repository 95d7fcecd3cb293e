"""Import every feature's models so the metadata (and Alembic) sees all tables."""
from disrupt.accounts.models import AuditEvent, User
from disrupt.cases.models import Case, MediaHash, Message, Note, Referral, ReportedURL
from disrupt.dashboard.models import TakedownFact
from disrupt.monitoring.models import HostFingerprint, HostSlot, URLCheck
from disrupt.operations.models import WorkerHeartbeat
from disrupt.platforms.exchange.models import APIClient, HashFeedback, PartnerHash
from disrupt.platforms.models import Platform, PlatformDomain, RemovalRequest, RequestReply
from disrupt.tracing.models import HostTrace
from disrupt.victims.models import ContactConfirmation, LoginThrottle, VictimUpdate

__all__ = [
    "APIClient",
    "HashFeedback",
    "PartnerHash",
    "AuditEvent",
    "Case",
    "ContactConfirmation",
    "HostFingerprint",
    "HostSlot",
    "HostTrace",
    "LoginThrottle",
    "MediaHash",
    "Message",
    "Note",
    "Platform",
    "PlatformDomain",
    "Referral",
    "RemovalRequest",
    "ReportedURL",
    "RequestReply",
    "TakedownFact",
    "URLCheck",
    "User",
    "WorkerHeartbeat",
    "VictimUpdate",
]
