"""Notices: rendered from a template per legal basis and language (templates/notices/), and
checked for every element the law asks of a valid notice (DESIGN.md §7).

Each required element is a named ``{% block %}`` of the template. The validator renders
those blocks on their own and refuses a notice whose text does not contain every one of
them (and the data they need: a name, a valid e-mail address, the URLs). So a caseworker's
edits — an added paragraph, fewer URLs — can never drop a required part unnoticed.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2

from disrupt.cases.models import INTIMATE_UNSURE
from disrupt.cases.sharing import SHARED, sharing_state
from disrupt.paths import templates_dir
from disrupt.platforms.models import LEGAL_BASES
from disrupt.translatable import N_

if TYPE_CHECKING:
    from disrupt.cases.models import Case, ReportedURL
    from disrupt.platforms.models import Platform, RemovalRequest

LEGAL_BASIS_NAMES = {
    "dsa_art16": N_("EU Digital Services Act, art. 16"),
    "take_it_down": N_("US TAKE IT DOWN Act"),
    "lcen_art6": N_("LCEN art. 6 (France)"),
}
NOTICE_LANGUAGES = ("en", "fr")
MAX_EXPLANATION = 2000
#: A recipient address a notice may go to: one address, nothing that could add another.
EMAIL_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class NoticeError(ValueError):
    pass


def new_request_reference() -> str:
    """The opaque reference a notice and its replies carry instead of the victim's case
    reference: random, so it tells nothing of the case (it is also the request's
    idempotency key)."""
    return secrets.token_hex(16)


class NoticeInvalid(NoticeError):
    """The notice lacks legally required elements; ``missing`` names them."""

    def __init__(self, legal_basis: str, missing: list[str]) -> None:
        self.legal_basis = legal_basis
        self.missing = missing
        super().__init__(f"the notice ({LEGAL_BASIS_NAMES[legal_basis]}) lacks: "
                         + "; ".join(missing))


@dataclass(frozen=True)
class Notifier:
    """The organisation sending notices (from the settings)."""

    name: str
    email: str
    trusted_flagger: bool
    # Dates people read (referral summaries) are in it; notices state UTC.
    time_zone: str = "UTC"

    @classmethod
    def from_config(cls, config: Any) -> Notifier:
        return cls(name=config["ORGANISATION_NAME"], email=config["ORGANISATION_EMAIL"],
                   trusted_flagger=bool(config["TRUSTED_FLAGGER"]),
                   time_zone=config["ORGANISATION_TIMEZONE"])


def _has_name(n: Notifier) -> bool:
    return bool(n.name.strip())


def _has_email(n: Notifier) -> bool:
    return bool(EMAIL_ADDRESS.match(n.email.strip()))


def _has_name_and_email(n: Notifier) -> bool:
    return _has_name(n) and _has_email(n)


def _always(_n: Notifier) -> bool:
    return True


@dataclass(frozen=True)
class RequiredElement:
    block: str          # the template block that carries it
    label: str          # how the validator names it when it is missing
    data_ok: Callable[[Notifier], bool] = _always
    only_if: Callable[[Notifier], bool] = _always


REQUIRED_ELEMENTS: dict[str, tuple[RequiredElement, ...]] = {
    # Regulation (EU) 2022/2065 art. 16(2) (a)–(d), and art. 22 for trusted flaggers.
    "dsa_art16": (
        RequiredElement("explanation", "explanation of why the content is illegal"),
        RequiredElement("location", "exact URLs of the content"),
        RequiredElement("notifier_name", "notifier's name", _has_name),
        RequiredElement("notifier_email", "notifier's e-mail address", _has_email),
        RequiredElement("good_faith", "statement of good faith"),
        RequiredElement("trusted_flagger", "trusted-flagger statement (DSA art. 22)",
                        only_if=lambda n: n.trusted_flagger),
    ),
    # TAKE IT DOWN Act, section 3(a)(2)(A)–(D).
    "take_it_down": (
        RequiredElement("signature", "signature of the victim or an authorised person",
                        _has_name),
        RequiredElement("location", "identification and location of the depiction (URLs)"),
        RequiredElement("good_faith", "good-faith statement that the depiction is not "
                                      "consensual"),
        RequiredElement("contact", "contact information", _has_name_and_email),
    ),
    # LCEN art. 6 (loi n° 2004-575), notification elements.
    "lcen_art6": (
        RequiredElement("date", "date of the notification"),
        RequiredElement("notifier_identity", "notifier's identity", _has_name_and_email),
        RequiredElement("description", "description of the content"),
        RequiredElement("location", "precise location of the content (URLs)"),
        RequiredElement("legal_grounds", "legal grounds for removal"),
    ),
}


@dataclass(frozen=True)
class RenderedNotice:
    legal_basis: str
    language: str
    subject: str
    body: str
    urls: tuple[str, ...]
    notifier: Notifier
    fragments: dict[str, str]  # block name → the text the template gives that element

    def missing(self) -> list[str]:
        return missing_elements(self.legal_basis, self.body, fragments=self.fragments,
                                urls=self.urls, notifier=self.notifier)

    def validate(self) -> None:
        missing = self.missing()
        if missing:
            raise NoticeInvalid(self.legal_basis, missing)


@lru_cache(maxsize=1)
def _notice_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "notices")),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _split_subject(text: str) -> tuple[str, str]:
    subject_line, _, body = text.partition("\n")
    if not subject_line.startswith("Subject: "):
        raise NoticeError("notice template must start with a Subject: line")
    return subject_line.removeprefix("Subject: ").strip(), body.lstrip("\n")


def clean_explanation(text: str | None) -> str | None:
    """The caseworker's added paragraph: trimmed, blank lines collapsed, bounded."""
    if not text or not text.strip():
        return None
    lines = [line.rstrip() for line in text.strip().replace("\r\n", "\n").split("\n")]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    if len(cleaned) > MAX_EXPLANATION:
        raise NoticeError(f"the added explanation is longer than {MAX_EXPLANATION} characters")
    return cleaned


def render_notice_text(
    *, case: Case, platform: Platform, urls: Sequence[ReportedURL], legal_basis: str,
    language: str, notifier: Notifier, now: datetime, explanation: str | None = None,
    reference: str | None = None,
) -> RenderedNotice:
    """The notice with its required fragments; not validated yet. `reference` is the
    request's own (a preview gets a fresh one). Fingerprints are listed only for the hashes
    the sharing rule (disrupt/cases/sharing.py) shares."""
    if legal_basis not in LEGAL_BASES:
        raise NoticeError(f"unknown legal basis {legal_basis!r}")
    if language not in NOTICE_LANGUAGES:
        raise NoticeError(f"no notice template in language {language!r}")
    shared = [h for h in case.hashes if sharing_state(case, h) == SHARED]
    context: dict[str, Any] = dict(
        reference=reference or new_request_reference(),
        platform=platform,
        urls=[u.url for u in urls],
        pdq_hashes=[h.pdq for h in shared if h.pdq],
        sha256_hashes=[h.sha256 for h in shared],
        notifier=notifier,
        date=now.strftime("%Y-%m-%d %H:%M UTC"),
        deadline_hours=platform.deadline_hours,
        minor=case.is_minor,
        explanation=clean_explanation(explanation),
    )
    template = _notice_env().get_template(f"{legal_basis}.{language}.txt")
    subject, body = _split_subject(template.render(context))
    fragments = {}
    for element in REQUIRED_ELEMENTS[legal_basis]:
        block = template.blocks[element.block]
        fragments[element.block] = "".join(block(template.new_context(dict(context))))
    return RenderedNotice(legal_basis, language, subject, body, tuple(context["urls"]),
                          notifier, fragments)


def render_notice(
    *, case: Case, platform: Platform, urls: list[ReportedURL], legal_basis: str,
    language: str, notifier: Notifier, now: datetime, explanation: str | None = None,
    reference: str | None = None, intimacy_confirmed: bool = False,
) -> tuple[str, str]:
    """Subject and body of a valid notice; NoticeInvalid names what is missing. A notice
    says the images are intimate: when the victim was not sure, a caseworker confirms it
    first (`intimacy_confirmed`)."""
    if not urls:
        raise NoticeError("a notice needs at least one URL")
    if case.intimate_answer == INTIMATE_UNSURE and not intimacy_confirmed:
        raise NoticeError("the victim was not sure the images are intimate: look at them and "
                          "tick the box confirming they are before sending a notice that says "
                          "so")
    notice = render_notice_text(case=case, platform=platform, urls=urls,
                                legal_basis=legal_basis, language=language,
                                notifier=notifier, now=now, explanation=explanation,
                                reference=reference)
    notice.validate()
    return notice.subject, notice.body


def _flat(text: str) -> str:
    return " ".join(text.split())


def missing_elements(
    legal_basis: str, body: str, *, fragments: dict[str, str], urls: Sequence[str],
    notifier: Notifier,
) -> list[str]:
    """The labels of the required elements ``body`` lacks, in the law's order."""
    flat_body = _flat(body)
    listed = {line.strip().removeprefix("- ").strip() for line in body.splitlines()
              if line.strip().startswith("- ")}
    missing = []
    for element in REQUIRED_ELEMENTS[legal_basis]:
        if not element.only_if(notifier):
            continue
        fragment = _flat(fragments.get(element.block, ""))
        present = bool(fragment) and fragment in flat_body and element.data_ok(notifier)
        if element.block == "location":
            present = present and bool(urls) and all(u in listed for u in urls)
        if not present:
            missing.append(element.label)
    return missing


def _scrubbed(text: str, case: Case | None, reference: str) -> str:
    """An original notice as a follow-up may quote it: one sent before notices were
    limited to what the victim agreed to loses her case reference and the fingerprints
    that are not shared."""
    if case is None:
        return text
    if case.reference:
        text = text.replace(case.reference, reference)
    withheld = {value for h in case.hashes if sharing_state(case, h) != SHARED
                for value in (h.pdq, h.sha256) if value}
    lines = [line for line in text.split("\n")
             if line.strip().removeprefix("- ").strip() not in withheld]
    return "\n".join(line for i, line in enumerate(lines)
                     if not _fingerprint_heading(line)
                     or (i + 1 < len(lines) and lines[i + 1].startswith("  - ")))


def _fingerprint_heading(line: str) -> bool:
    return line.endswith(":") and ("(PDQ" in line or "(SHA-256)" in line)


def render_follow_up(
    original: RemovalRequest, *, language: str, now: datetime, case: Case | None = None,
) -> tuple[str, str]:
    """A reminder that quotes the original notice in full (so it is a valid notice too).
    Given the case, an old original is quoted without what a notice may no longer carry."""
    if language not in NOTICE_LANGUAGES:
        language = "en"
    template = _notice_env().get_template(f"follow_up.{language}.txt")
    sent = original.sent_at or original.created_at
    reference = original.idempotency_key
    text = template.render(original=original, platform=original.platform,
                           reference=reference,
                           original_subject=_scrubbed(original.subject, case, reference),
                           original_body=_scrubbed(original.body, case, reference),
                           date=now.strftime("%Y-%m-%d %H:%M UTC"),
                           original_sent=sent.strftime("%Y-%m-%d %H:%M UTC"))
    return _split_subject(text)
