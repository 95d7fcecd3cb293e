"""Words for the codes the database keeps, so that no screen shows `dsa_art16` or
`assignee_id: 2` to a person. One table per kind of code; the `words` template filter and
the timeline read them."""
from __future__ import annotations

from typing import Any

from flask import Flask

from disrupt.platforms.ladder import RUNG_NAMES
from disrupt.platforms.notices import LEGAL_BASIS_NAMES

WORDS: dict[str, dict[str, str]] = {
    "legal_basis": dict(LEGAL_BASIS_NAMES),
    "request_status": {
        "draft": "draft", "queued": "waiting to be sent",
        "sent": "sent, waiting for the platform", "acknowledged": "acknowledged by the platform",
        "actioned": "actioned by the platform", "rejected": "rejected by the platform",
        "failed": "could not be sent",
    },
    "channel": {"email": "e-mail", "api": "the platform's API", "webform": "web form",
                "manual": "by hand", "none": "no channel yet"},
    "case_status": {"new": "new", "in_progress": "in progress", "closed": "closed",
                    "withdrawn": "withdrawn by the victim",
                    "erased": "erased at the victim's request"},
    "age_group": {"adult": "18 or older", "minor": "under 18 when the images were made",
                  "unknown": "not sure whether under 18"},
    "reporter": {"self": "the person shown in the images",
                 "supporter": "someone supporting the person shown"},
    "language": {"en": "English", "fr": "French"},
    "rung": dict(RUNG_NAMES),
}

#: How audit details read in the timeline (keys not listed are shown as they are).
DETAIL_KEYS = {
    "assignee_id": "assigned to", "urls": "addresses", "legal_basis": "legal basis",
    "channel": "channel", "status": "status", "outcome": "outcome", "age_group": "age group",
    "high_priority": "high priority", "added": "added", "refused": "refused",
    "duplicates": "already there", "messages": "messages", "recipient": "to",
    "rung": "rung",
}
DETAIL_KINDS = {"legal_basis": "legal_basis", "channel": "channel", "status": "case_status",
                "age_group": "age_group", "rung": "rung"}


def words(value: Any, kind: str) -> str:
    """The words for ``value``, a code of ``kind``; the value itself when it has none."""
    if value is None or value == "":
        return "—"
    return WORDS.get(kind, {}).get(str(value), str(value).replace("_", " "))


def detail_text(detail: dict[str, Any], names: dict[int, str]) -> str:
    """An audit event's details in words: user ids become names, codes become words."""
    parts = []
    for key, value in sorted(detail.items()):
        if key == "case_id":
            continue
        if key == "assignee_id":
            shown = "nobody" if value in (None, "") else names.get(int(value), "a caseworker")
        elif key in DETAIL_KINDS:
            shown = words(value, DETAIL_KINDS[key])
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = str(value)
        parts.append(f"{DETAIL_KEYS.get(key, key.replace('_', ' '))}: {shown}")
    return ", ".join(parts)


def init_wording(app: Flask) -> None:
    app.add_template_filter(words, "words")
