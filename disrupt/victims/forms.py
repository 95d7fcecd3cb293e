from __future__ import annotations

import json

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from disrupt.cases.services import HashShapeError, SubmittedHash, parse_submitted_hash
from disrupt.cases.urlnorm import normalize_many

MAX_URLS = 200


class OpenCaseForm(FlaskForm):
    age_group = RadioField(
        "Were you (or the person you support) under 18 when the images were made?",
        choices=[("adult", "No, 18 or older"), ("minor", "Yes, under 18"),
                 ("unknown", "I am not sure")],
        default="adult",
        validators=[DataRequired()],
    )
    language = SelectField("Language for messages", choices=[("en", "English"), ("fr", "Français")],
                           default="en")
    urls = TextAreaField(
        "Where did you see the images? One web address per line",
        validators=[Length(max=200_000)],
    )
    contact = StringField("E-mail address for updates (optional)",
                          validators=[Optional(), Email(message="This e-mail address does not "
                                                        "look right."), Length(max=254)])
    hashes = HiddenField()
    consent_notices = BooleanField(
        "I agree that DISRUPT sends removal requests with these web addresses to the platforms",
        validators=[DataRequired(message="We need your agreement to ask platforms to remove the "
                                         "images.")],
    )
    consent_hash_sharing = BooleanField(
        "I agree that the fingerprints (hashes) of my images are shared with partner platforms so "
        "they can block new uploads"
    )

    normalized_urls: list[str]
    submitted_hashes: list[SubmittedHash]

    def validate_urls(self, field: TextAreaField) -> None:
        good, bad = normalize_many(field.data or "")
        if bad:
            raise ValidationError(
                " ".join(f"“{raw}”: {message}" for raw, message in bad[:10])
                + (f" (and {len(bad) - 10} more)" if len(bad) > 10 else "")
            )
        if len(good) > MAX_URLS:
            raise ValidationError(f"Please give at most {MAX_URLS} addresses at once.")
        self.normalized_urls = good

    def validate_hashes(self, field: HiddenField) -> None:
        self.submitted_hashes = []
        if not field.data:
            return
        try:
            raw = json.loads(field.data)
            if not isinstance(raw, list) or len(raw) > 200:
                raise HashShapeError("expected a list of at most 200 hashes")
            self.submitted_hashes = [parse_submitted_hash(item) for item in raw]
        except (ValueError, HashShapeError) as exc:
            raise ValidationError(f"The image fingerprints could not be read ({exc}). "
                                  "Please choose the images again.") from exc

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if ok and not self.normalized_urls and not self.submitted_hashes:
            self.urls.errors.append("Add at least one web address or one image.")
            return False
        return ok


class FollowCaseForm(FlaskForm):
    reference = StringField("Case reference", validators=[DataRequired(), Length(max=40)])
    secret = StringField("Secret code", validators=[DataRequired(), Length(max=60)])
