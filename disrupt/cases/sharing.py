"""The one rule for "is this hash shared with partner platforms". The victim's page, the
case page, the hash exchange and the notices all ask it, in Python (`sharing_state`) or in
SQL (`sharing_state_sql`); both are built here from the same conditions, and a test checks
that they agree on every combination.

A hash is *cleared* for sharing when the victim consented, it has a value the exchange can
carry (PDQ for an image, MD5 for a video), a caseworker approved it if the person was a
minor or of unknown age, and a caseworker approved it if its PDQ is weak or of unknown
quality. A cleared hash is *shared* while it is active and the case not stopped; once
withdrawn it stays listed in the exchange (as withdrawn or deleted) so that partners drop
it. A hash never cleared is never listed, not even as withdrawn.
"""
from __future__ import annotations

from sqlalchemy import and_, case, literal, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from disrupt.cases.models import STOPPED_STATUSES, Case, MediaHash
from disrupt.hashing.matching import PDQ_MIN_QUALITY

SHARED = "shared"
WITHDRAWN = "withdrawn"
NO_CONSENT = "no_consent"
NO_EXCHANGEABLE_HASH = "no_exchangeable_hash"
AWAITING_DECISION = "awaiting_decision"  # a minor's, or the age is not known
WEAK = "weak"
SHARING_STATES = (SHARED, WITHDRAWN, NO_CONSENT, NO_EXCHANGEABLE_HASH, AWAITING_DECISION,
                  WEAK)
#: States a caseworker's approval turns into SHARED.
APPROVABLE_STATES = (AWAITING_DECISION, WEAK)


def _stopped(case_: Case, media: MediaHash) -> bool:
    return media.status != "active" or case_.status in STOPPED_STATUSES


def _exchangeable(media: MediaHash) -> bool:
    return bool(media.pdq) if media.kind == "image" else \
        media.kind == "video" and bool(media.md5)


def _age_confirmed_adult(case_: Case) -> bool:
    return case_.age_group == "adult"


def _strong(media: MediaHash) -> bool:
    return media.kind != "image" or (media.pdq_quality is not None
                                     and media.pdq_quality >= PDQ_MIN_QUALITY)


def sharing_state(case_: Case, media: MediaHash) -> str:
    """Where one hash of the case stands: one of SHARING_STATES."""
    approved = media.sharing_approved_at is not None
    if _stopped(case_, media):
        return WITHDRAWN
    if not case_.consent_hash_sharing:
        return NO_CONSENT
    if not _exchangeable(media):
        return NO_EXCHANGEABLE_HASH
    if not _age_confirmed_adult(case_) and not approved:
        return AWAITING_DECISION
    if not _strong(media) and not approved:
        return WEAK
    return SHARED


def is_cleared(case_: Case, media: MediaHash) -> bool:
    """Listed in the exchange: shared now, or shared before it was withdrawn."""
    approved = media.sharing_approved_at is not None
    return (bool(case_.consent_hash_sharing) and _exchangeable(media)
            and (_age_confirmed_adult(case_) or approved) and (_strong(media) or approved))


# -- the same in SQL, over MediaHash joined to its Case ---------------------------------------

def _stopped_sql() -> ColumnElement[bool]:
    return or_(MediaHash.status != "active", Case.status.in_(STOPPED_STATUSES))


def _exchangeable_sql() -> ColumnElement[bool]:
    return or_(and_(MediaHash.kind == "image", MediaHash.pdq.is_not(None), MediaHash.pdq != ""),
               and_(MediaHash.kind == "video", MediaHash.md5.is_not(None), MediaHash.md5 != ""))


def _strong_sql() -> ColumnElement[bool]:
    return or_(MediaHash.kind != "image",
               and_(MediaHash.pdq_quality.is_not(None), MediaHash.pdq_quality >= PDQ_MIN_QUALITY))


def _approved_sql() -> ColumnElement[bool]:
    return MediaHash.sharing_approved_at.is_not(None)


def cleared_sql() -> ColumnElement[bool]:
    """`is_cleared` as a condition on MediaHash joined to Case."""
    approved = _approved_sql()
    return and_(Case.consent_hash_sharing.is_(True), _exchangeable_sql(),
                or_(Case.age_group == "adult", approved), or_(_strong_sql(), approved))


def shared_sql() -> ColumnElement[bool]:
    """`sharing_state(...) == SHARED` as a condition on MediaHash joined to Case."""
    return and_(not_(_stopped_sql()), cleared_sql())


def sharing_state_sql() -> ColumnElement[str]:
    """`sharing_state` as a column over MediaHash joined to Case."""
    approved = _approved_sql()
    return case(
        (_stopped_sql(), literal(WITHDRAWN)),
        (not_(Case.consent_hash_sharing.is_(True)), literal(NO_CONSENT)),
        (not_(_exchangeable_sql()), literal(NO_EXCHANGEABLE_HASH)),
        (and_(Case.age_group != "adult", not_(approved)), literal(AWAITING_DECISION)),
        (and_(not_(_strong_sql()), not_(approved)), literal(WEAK)),
        else_=literal(SHARED),
    )
