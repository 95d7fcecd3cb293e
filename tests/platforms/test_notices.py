"""Notices carry every element the law asks of them; the validator names what is missing."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.platforms.models import Platform
from disrupt.platforms.notices import (
    NOTICE_LANGUAGES,
    REQUIRED_ELEMENTS,
    NoticeError,
    NoticeInvalid,
    Notifier,
    render_notice,
    render_notice_text,
)

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
TRUSTED = Notifier("Hotline Example", "notices@hotline.example", trusted_flagger=True)
PDQ = "f" * 16 + "0" * 48
URLS = ["https://img.picshare.example/p/1.jpg", "https://picshare.example/p/2.jpg"]


def _case(age_group: str = "adult") -> Case:
    case = Case(id=7, reference="DX-7K2P", age_group=age_group, language="en",
                status="in_progress", consent_hash_sharing=True)
    case.hashes = [MediaHash(kind="image", pdq=PDQ, pdq_quality=90, sha256="a" * 64,
                             status="active", pipeline="t")]
    return case


def _platform() -> Platform:
    return Platform(id=3, name="PicShare", channel="email", contact="abuse@picshare.example",
                    deadline_hours=48, default_legal_basis="dsa_art16")


def _urls() -> list[ReportedURL]:
    return [ReportedURL(id=i, case_id=7, platform_id=3, url=u, host="picshare.example")
            for i, u in enumerate(URLS, start=1)]


def _render(basis: str, language: str, notifier: Notifier = TRUSTED, **kw):
    return render_notice_text(case=_case(kw.pop("age_group", "adult")), platform=_platform(),
                              urls=kw.pop("urls", _urls()), legal_basis=basis,
                              language=language, notifier=notifier, now=NOW, **kw)


ELEMENT_CASES = [(basis, language, element.block, element.label)
                 for basis, elements in REQUIRED_ELEMENTS.items()
                 for language in NOTICE_LANGUAGES
                 for element in elements]


@pytest.mark.parametrize("basis", list(REQUIRED_ELEMENTS))
@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
def test_rendered_notice_contains_every_required_element(basis: str, language: str) -> None:
    notice = _render(basis, language)
    assert notice.missing() == []
    notice.validate()
    for element in REQUIRED_ELEMENTS[basis]:
        fragment = notice.fragments[element.block]
        assert fragment.strip(), element.block
        assert fragment in notice.body, element.block
    for url in URLS:
        assert f"  - {url}\n" in notice.body
    assert PDQ in notice.body  # the platform can find copies
    assert "DX-7K2P" not in notice.subject + notice.body


@pytest.mark.parametrize(("basis", "language", "block", "label"), ELEMENT_CASES,
                         ids=[f"{b}-{lang}-{blk}" for b, lang, blk, _ in ELEMENT_CASES])
def test_removing_an_element_makes_the_validator_refuse(
    basis: str, language: str, block: str, label: str,
) -> None:
    notice = _render(basis, language)
    fragment = notice.fragments[block]
    assert fragment.strip() and fragment in notice.body
    body = notice.body.replace(fragment, "")
    edited = type(notice)(notice.legal_basis, notice.language, notice.subject, body,
                          notice.urls, notice.notifier, notice.fragments)
    assert edited.missing() == [label]
    with pytest.raises(NoticeInvalid) as refused:
        edited.validate()
    assert label in str(refused.value)


@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
def test_trusted_flagger_statement_only_for_a_trusted_flagger(language: str) -> None:
    plain = Notifier(TRUSTED.name, TRUSTED.email, trusted_flagger=False)
    assert _render("dsa_art16", language, plain).missing() == []
    trusted = _render("dsa_art16", language)
    assert "22" in trusted.fragments["trusted_flagger"]
    assert trusted.fragments["trusted_flagger"].strip() not in \
        _render("dsa_art16", language, plain).body


@pytest.mark.parametrize("basis", list(REQUIRED_ELEMENTS))
@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
def test_a_dropped_url_line_is_missing_location(basis: str, language: str) -> None:
    notice = _render(basis, language)
    body = notice.body.replace(f"  - {URLS[1]}\n", "")
    edited = type(notice)(basis, language, notice.subject, body, notice.urls, notice.notifier,
                          notice.fragments)
    assert len(edited.missing()) == 1
    assert "URL" in edited.missing()[0]


@pytest.mark.parametrize(("notifier", "expected"), [
    (Notifier("", "notices@hotline.example", False),
     {"dsa_art16": ["notifier's name"],
      "take_it_down": ["signature of the victim or an authorised person",
                       "contact information"],
      "lcen_art6": ["notifier's identity"]}),
    (Notifier("Hotline", "not-an-address", False),
     {"dsa_art16": ["notifier's e-mail address"],
      "take_it_down": ["contact information"],
      "lcen_art6": ["notifier's identity"]}),
])
def test_settings_without_a_name_or_email_cannot_make_a_valid_notice(notifier, expected):
    for basis, labels in expected.items():
        for language in NOTICE_LANGUAGES:
            assert _render(basis, language, notifier).missing() == labels


@pytest.mark.parametrize("basis", list(REQUIRED_ELEMENTS))
def test_render_notice_refuses_and_names_the_element(basis: str) -> None:
    with pytest.raises(NoticeInvalid) as refused:
        render_notice(case=_case(), platform=_platform(), urls=_urls(), legal_basis=basis,
                      language="en", notifier=Notifier("Hotline", "", False), now=NOW)
    assert refused.value.missing
    with pytest.raises(NoticeError, match="at least one URL"):
        render_notice(case=_case(), platform=_platform(), urls=[], legal_basis=basis,
                      language="en", notifier=TRUSTED, now=NOW)


@pytest.mark.parametrize("basis", list(REQUIRED_ELEMENTS))
@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
def test_added_explanation_keeps_the_notice_valid(basis: str, language: str) -> None:
    text = "The uploader is the victim's former partner.\r\n\r\n\r\nShe never agreed."
    notice = _render(basis, language, explanation=text)
    assert notice.missing() == []
    assert "The uploader is the victim's former partner.\n\nShe never agreed." in notice.body
    with pytest.raises(NoticeError, match="longer than"):
        _render(basis, language, explanation="x" * 2001)


@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
def test_a_minor_is_said_so(language: str) -> None:
    body = _render("lcen_art6", language, age_group="minor").body
    assert "227-23" in body


def test_unknown_basis_or_language() -> None:
    with pytest.raises(NoticeError):
        _render("gdpr_art17", "en")
    with pytest.raises(NoticeError):
        _render("dsa_art16", "de")
