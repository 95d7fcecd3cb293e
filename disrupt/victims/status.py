"""The case page's rows in plain words, dates in the victim's language."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.cases.sharing import (
    APPROVABLE_STATES,
    NO_CONSENT,
    NO_EXCHANGEABLE_HASH,
    WITHDRAWN,
    sharing_state,
)
from disrupt.hashing.matching import PDQ_MIN_QUALITY
from disrupt.i18n import moment
from disrupt.platforms.exchange.services import feedback_for_case


@dataclass
class URLRow:
    url: str
    state: str
    words: str
    request_sent: str | None
    last_checked: str


@dataclass
class HashRow:
    name: str
    added: str
    status: str
    words: str
    weak: bool
    feedback: list[str] = field(default_factory=list)


def _day(day: datetime | None) -> str:
    return moment(day, "day")


def url_words(url: ReportedURL, case: Case) -> str:
    if case.status == "withdrawn":
        return _("No longer checked: you withdrew the case.")
    state = url.state
    if state == "removed":
        return _("Removed on %(date)s.", date=_day(url.removed_at or url.last_checked_at))
    if state == "online" and url.reappeared and url.reappeared_at:
        return _("Came back on %(date)s. Still online: we are asking again for its removal.",
                 date=_day(url.reappeared_at))
    if state == "online" and url.picture_confirmed_at is None:
        return _("The page is online. We have not yet confirmed that it shows your picture: "
                 "a caseworker will look at it.")
    if state == "online":
        return _("Still online.")
    if state == "removal_suspected":
        return _("Looks removed since %(date)s. We are checking again to be sure.",
                 date=_day(url.removal_suspected_at or url.last_checked_at))
    if state == "indeterminate":
        return _("We could not see the page at our last check (the site may need a login or "
                 "be unavailable). We will try again.")
    if state == "restricted":
        return _("Blocked in some countries, maybe still visible elsewhere.")
    if state == "invalid":
        return _("This address cannot be checked. A caseworker will look at it.")
    return _("Being checked for the first time.")


def url_rows(case: Case, requested: dict[int, datetime]) -> list[URLRow]:
    rows = []
    for url in case.urls:
        sent = requested.get(url.id)
        rows.append(URLRow(
            url=url.url,
            state=url.state,
            words=url_words(url, case),
            request_sent=(_("We asked the website to remove it on %(date)s.", date=_day(sent))
                          if sent else None),
            last_checked=(moment(url.last_checked_at)
                          if url.last_checked_at else _("Not yet")),
        ))
    return rows


def hash_words(media: MediaHash, case: Case) -> str:
    state = sharing_state(case, media)
    if state == WITHDRAWN:
        return _("Withdrawn on %(date)s: no longer used or shared.",
                 date=_day(media.status_changed_at or case.withdrawn_at))
    if state == NO_CONSENT:
        return _("Active: our caseworkers use it to recognise your images. Not shared with "
                 "platforms (you did not ask for that).")
    if state == NO_EXCHANGEABLE_HASH:
        return _("Active: our caseworkers use it to recognise your images. This kind of "
                 "fingerprint cannot be shared with platforms.")
    if state in APPROVABLE_STATES:
        return _("Active: a caseworker decides before it is shared with platforms.")
    return _("Active: shared with partner platforms so they can find and block copies.")


def platform_feedback(session: Session, case: Case) -> dict[int, list[str]]:
    """Per hash id, what partner platforms said about it, in plain words."""
    out: dict[int, list[str]] = {}
    for media_id, items in feedback_for_case(session, case).items():
        texts = []
        for item in items:
            platform = item.platform.name
            if item.value == "Blocked":
                texts.append(_("%(platform)s blocks copies of it.", platform=platform))
            elif item.value == "NotBlocked":
                texts.append(_("%(platform)s did not block it.", platform=platform))
            elif item.value == "PendingReview":
                texts.append(_("%(platform)s is reviewing it.", platform=platform))
        if texts:
            out[media_id] = texts
    return out


def hash_rows(session: Session, case: Case) -> list[HashRow]:
    feedback = platform_feedback(session, case)
    rows = []
    for number, media in enumerate(case.hashes, start=1):
        if media.status == "deleted":
            continue
        if media.label:
            name = media.label
        elif media.kind == "video":
            name = _("Video %(number)d", number=number)
        else:
            name = _("Image %(number)d", number=number)
        rows.append(HashRow(
            name=name, added=_day(media.created_at), status=media.status,
            words=hash_words(media, case),
            weak=media.kind == "image" and media.pdq_quality is not None
            and media.pdq_quality < PDQ_MIN_QUALITY,
            feedback=feedback.get(media.id, []),
        ))
    return rows
