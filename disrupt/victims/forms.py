"""The portal's forms. Every label and message is translated (French and English)."""
from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from disrupt.cases.services import MAX_MESSAGE, HashShapeError, SubmittedHash, parse_submitted_hash
from disrupt.i18n import PORTAL_LANGUAGES
from disrupt.urls.normalize import InvalidURL, normalize_many, normalize_url

# Defaults; the views set url_limit / hash_limit on a form from the settings.
MAX_URLS = 200
# A shape check only: the address is used for updates, never to identify anyone.
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
MAX_HASHES = 200

# The URL normaliser explains refusals in English; these are its fixed messages, translated.
# Anything else gets the general explanation.
_URL_MESSAGES = {
    "The site name in this address is not valid. Please copy the address again from your "
    "browser's address bar.": _l("The site name in this address is not valid. Please copy the "
                                 "address again from your browser's address bar."),
    "This address has no site name after https://.": _l(
        "This address has no site name after https://."),
    "Please enter a web address, for example https://example.com/page.": _l(
        "Please enter a web address, for example https://example.com/page."),
    "This address contains invisible control characters. Please copy it again from your "
    "browser's address bar.": _l("This address contains invisible control characters. Please "
                                 "copy it again from your browser's address bar."),
    "This looks like an e-mail address, not a web address. Please enter the address of the "
    "page, starting with https://.": _l("This looks like an e-mail address, not a web address. "
                                        "Please enter the address of the page, starting with "
                                        "https://."),
    "This does not look like a web address: it should start with https:// followed by a site "
    "name, for example https://example.com/page.": _l(
        "This does not look like a web address: it should start with https:// followed by a "
        "site name, for example https://example.com/page."),
    "The site name in this address is not valid.": _l(
        "The site name in this address is not valid."),
    "The port number in this address (after the colon) is not valid.": _l(
        "The port number in this address (after the colon) is not valid."),
}


def _explain(message: str) -> str:
    known = _URL_MESSAGES.get(message)
    if known is not None:
        return str(known)
    return gettext("This is not a web address we can check. It should look like "
                   "https://example.com/page.")


def parse_url_block(text: str) -> tuple[list[str], list[str]]:
    """Normalised addresses (repeats dropped quietly) and one translated error per refusal."""
    good, bad = normalize_many(text)
    errors = []
    for raw, message in bad:
        try:
            if normalize_url(raw.strip("<>\"'()[],;")) in good:
                continue  # the same address twice in one paste: keep it once
        except InvalidURL:
            pass
        errors.append(gettext("“%(address)s”: %(explanation)s", address=raw[:200],
                              explanation=_explain(message)))
    return good, errors


def validate_url_block(form: Any, field: TextAreaField) -> None:
    limit = getattr(form, "url_limit", MAX_URLS)
    too_many = gettext("Please give at most %(count)d addresses at once.", count=limit)
    # A web address holds no space: far more words than the limit is refused before parsing.
    if len((field.data or "").split()) > 2 * limit:
        raise ValidationError(too_many)
    good, errors = parse_url_block(field.data or "")
    form.understood_urls = good
    if errors:
        shown = errors[:10]
        if len(errors) > 10:
            shown.append(gettext("(and %(count)d more)", count=len(errors) - 10))
        # One message per refused line: all but the last go straight to the field's list,
        # as WTForms keeps one message per raised ValidationError.
        field.errors.extend(shown[:-1])
        raise ValidationError(shown[-1])
    if len(good) > limit:
        raise ValidationError(too_many)
    form.normalized_urls = good


def parse_hashes(text: str | None, limit: int = MAX_HASHES) -> list[SubmittedHash]:
    if not text:
        return []
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise HashShapeError("expected a list")
    except (ValueError, HashShapeError) as exc:
        raise ValidationError(gettext("The image fingerprints could not be read. Please choose "
                                      "the images again.")) from exc
    if len(raw) > limit:
        raise ValidationError(gettext("Please send at most %(count)d images at once. Remove "
                                      "some, send these, then add the others.", count=limit))
    try:
        return [parse_submitted_hash(item) for item in raw]
    except (ValueError, HashShapeError) as exc:
        raise ValidationError(gettext("The image fingerprints could not be read. Please choose "
                                      "the images again.")) from exc


def language_choices() -> list[tuple[str, str]]:
    return list(PORTAL_LANGUAGES.items())


class OpenCaseForm(FlaskForm):
    reporter = RadioField(
        _l("Who are the images of?"),
        choices=[("self", _l("Me")), ("supporter", _l("Someone I support (a friend, my child, "
                                                      "someone I help at work)"))],
        validators=[InputRequired(message=_l("Please choose one answer."))],
    )
    age_group = RadioField(
        _l("Was the person under 18 when the images were made?"),
        choices=[("adult", _l("No, 18 or older")), ("minor", _l("Yes, under 18")),
                 ("unknown", _l("I am not sure"))],
        validators=[InputRequired(message=_l("Please choose one answer."))],
    )
    intimate = RadioField(
        _l("Are the images intimate (nude, partly nude, or sexual)?"),
        choices=[("yes", _l("Yes")), ("unsure", _l("I am not sure")), ("no", _l("No"))],
        validators=[InputRequired(message=_l("Please choose one answer."))],
    )
    urls = TextAreaField(
        _l("Where did you see the images? One web address per line"),
        validators=[Length(max=200_000)],
    )
    contact = StringField(
        _l("E-mail address for updates (optional)"),
        validators=[Optional(), Regexp(EMAIL_SHAPE, message=_l(
                        "This e-mail address does not look right. It should look like "
                        "name@example.com.")),
                    Length(max=254)],
    )
    language = SelectField(_l("Language for messages from us"), choices=language_choices())
    hashes = HiddenField(_l("Image fingerprints"))
    consent_notices = BooleanField(
        # The label names the organisation that runs the service (see __init__).
        _l("I agree that the web addresses above are sent to the websites that host them, "
           "asking them to remove the images"),
        validators=[DataRequired(message=_l("We need your agreement to ask websites to remove "
                                            "the images."))],
    )
    consent_hash_sharing = BooleanField(
        _l("I agree that the fingerprints of my images are shared with partner platforms so they "
           "can block new uploads (optional)"),
    )

    normalized_urls: list[str]
    submitted_hashes: list[SubmittedHash]

    def __init__(self, *args: Any, organisation: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organisation:
            self.consent_notices.label.text = gettext(
                "I agree that %(organisation)s sends the web addresses above to the websites "
                "that host them, asking them to remove the images", organisation=organisation)

    def validate_intimate(self, field: RadioField) -> None:
        if field.data == "no":
            raise ValidationError(gettext(
                "This service is only for intimate images. For other content that hurts you, "
                "the organisations listed under “Other help” on the home page can help."))

    validate_urls = validate_url_block

    def validate_hashes(self, field: HiddenField) -> None:
        self.submitted_hashes = parse_hashes(field.data, getattr(self, "hash_limit", MAX_HASHES))

    def validate(self, extra_validators: Any = None) -> bool:
        self.normalized_urls, self.submitted_hashes = [], []
        ok = super().validate(extra_validators)
        if ok and not self.normalized_urls and not self.submitted_hashes:
            self.urls.errors = [gettext("Add at least one web address or one image.")]
            return False
        return ok


class FollowCaseForm(FlaskForm):
    reference = StringField(_l("Case reference"), validators=[
        DataRequired(message=_l("Please enter your case reference.")), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})
    secret = StringField(_l("Secret code"), validators=[
        DataRequired(message=_l("Please enter your secret code.")), Length(max=60)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})


class AddURLsForm(FlaskForm):
    urls = TextAreaField(_l("New web addresses, one per line"), validators=[
        DataRequired(message=_l("Please enter at least one web address.")),
        Length(max=200_000)])
    normalized_urls: list[str]

    validate_urls = validate_url_block


class AddImagesForm(FlaskForm):
    hashes = HiddenField(_l("Image fingerprints"))
    submitted_hashes: list[SubmittedHash]

    def validate_hashes(self, field: HiddenField) -> None:
        self.submitted_hashes = parse_hashes(field.data, getattr(self, "hash_limit", MAX_HASHES))
        if not self.submitted_hashes:
            raise ValidationError(gettext("Please choose at least one image first."))


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Your message"), validators=[
        DataRequired(message=_l("The message is empty.")),
        Length(max=MAX_MESSAGE, message=_l("Please keep the message under %(max)d characters."))])


class StopUpdatesForm(FlaskForm):
    """Deletes the victim's e-mail address: no more update e-mails."""


class ConfirmForm(FlaskForm):
    """The second step of withdrawing or erasing a case."""

    confirm = BooleanField(_l("I understand, and I want to do this"), validators=[
        DataRequired(message=_l("Please tick the box to confirm."))])


class LanguageForm(FlaskForm):
    # Labels never shown; given, so that WTForms does not load its catalogue to name them.
    language = HiddenField("language")
    next = HiddenField("next")

    def validate_language(self, field: HiddenField) -> None:
        if field.data not in PORTAL_LANGUAGES:
            raise ValidationError("unknown language")
