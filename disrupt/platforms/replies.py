"""Which removal request a platform's e-mail answers. A notice carries its request's opaque
reference (the idempotency key) in its subject and body, and its Message-ID is
<notice-KEY@…>: a reply is threaded by its In-Reply-To / References headers, else by the
reference it quotes. Never by the victim's case reference, which no notice carries."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.platforms.models import RemovalRequest

_MESSAGE_ID_KEY = re.compile(r"<notice-([0-9a-f]{32})@", re.IGNORECASE)
_QUOTED_KEY = re.compile(r"(?<![0-9a-f])([0-9a-f]{32})(?![0-9a-f])", re.IGNORECASE)


def _candidates(*, headers: str, subject: str, body: str) -> list[str]:
    keys = [k.lower() for k in _MESSAGE_ID_KEY.findall(headers)]
    for text in (subject, body):
        keys += [k.lower() for k in _QUOTED_KEY.findall(text)]
    return list(dict.fromkeys(keys))


def request_for_reply(
    session: Session, *, subject: str = "", body: str = "", in_reply_to: str = "",
    references: str = "",
) -> RemovalRequest | None:
    """The request a platform's e-mail answers; a follow-up's answer goes to the request it
    follows up. None when the message names no request of ours."""
    keys = _candidates(headers=f"{in_reply_to} {references}", subject=subject, body=body)
    if not keys:
        return None
    found = {r.idempotency_key: r for r in session.scalars(
        select(RemovalRequest).where(RemovalRequest.idempotency_key.in_(keys)))}
    for key in keys:
        request = found.get(key)
        if request is not None:
            while request.follow_up_of_id is not None:
                original = session.get(RemovalRequest, request.follow_up_of_id)
                if original is None:
                    break
                request = original
            return request
    return None
