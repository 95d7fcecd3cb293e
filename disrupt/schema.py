"""Import every feature's models so the metadata (and Alembic) sees all tables."""
from disrupt.accounts.models import AuditEvent, User
from disrupt.cases.models import (
    Case,
    CaseTally,
    MediaHash,
    Message,
    Note,
    Referral,
    ReportedURL,
)
from disrupt.dashboard.models import TakedownFact
from disrupt.evidence.models import Capture, CustodyEntry, EvidenceHold, PictureConsent
from disrupt.monitoring.models import HostFingerprint, HostSlot, URLCheck
from disrupt.operations.models import WorkerHeartbeat
from disrupt.platforms.exchange.models import APIClient, HashFeedback, PartnerHash
from disrupt.platforms.models import (
    EscalationStep,
    MailboxCursor,
    MailboxMessage,
    Platform,
    PlatformDomain,
    RemovalRequest,
    RequestReply,
)
from disrupt.tracing.models import HostTrace
from disrupt.victims.models import ContactConfirmation, LoginThrottle, VictimUpdate

__all__ = [
    "APIClient",
    "HashFeedback",
    "PartnerHash",
    "AuditEvent",
    "Capture",
    "Case",
    "CaseTally",
    "ContactConfirmation",
    "CustodyEntry",
    "EscalationStep",
    "EvidenceHold",
    "HostFingerprint",
    "HostSlot",
    "HostTrace",
    "LoginThrottle",
    "MailboxCursor",
    "MailboxMessage",
    "MediaHash",
    "Message",
    "Note",
    "PictureConsent",
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
