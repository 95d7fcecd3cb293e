from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from disrupt.platforms.models import REPLY_STATUSES
from disrupt.platforms.notices import LEGAL_BASIS_NAMES, MAX_EXPLANATION, NOTICE_LANGUAGES
from disrupt.platforms.referrals import RECIPIENTS


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as check boxes: each option renders as an input, not as a bare
    <option> outside a <select> (which a browser never submits)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


INTIMACY_CONFIRMATION = ("The victim was not sure the images are intimate: I looked at them and "
                         "confirm they are")


class RemovalRequestForm(FlaskForm):
    """The case page's request to one platform: which of its addresses, on what basis."""

    url_ids = SelectMultipleField("URLs", coerce=int, validators=[DataRequired()])
    legal_basis = SelectField("Legal basis", choices=list(LEGAL_BASIS_NAMES.items()))
    language = SelectField("Language", choices=[(lang, lang.upper()) for lang in NOTICE_LANGUAGES])
    intimacy_confirmed = BooleanField(INTIMACY_CONFIRMATION)


class NoticeForm(FlaskForm):
    """The caseworker's edits of a notice: which URLs, basis, language, an added paragraph."""

    url_ids = CheckboxesField("URLs on this platform", coerce=int,
                              validators=[DataRequired("Choose at least one URL.")])
    legal_basis = SelectField("Legal basis", choices=list(LEGAL_BASIS_NAMES.items()))
    language = SelectField("Language", choices=[(lang, lang.upper()) for lang in NOTICE_LANGUAGES])
    explanation = TextAreaField(
        "Additional explanation (optional)",
        validators=[Optional(), Length(max=MAX_EXPLANATION)],
    )
    intimacy_confirmed = BooleanField(INTIMACY_CONFIRMATION)


class ReplyForm(FlaskForm):
    status = SelectField("The platform's answer",
                         choices=[(s, s.capitalize()) for s in REPLY_STATUSES])
    reason = TextAreaField("Reason given (required for a rejection)",
                           validators=[Optional(), Length(max=2000)])
    reference = StringField("Their reference (optional)", validators=[Optional(), Length(max=120)])


class ActionForm(FlaskForm):
    """A button: CSRF only."""


class AttachForm(FlaskForm):
    """Thread an e-mail from triage to the request it answers."""

    request = StringField("Our reference (32 characters) or the request's number",
                          validators=[DataRequired(), Length(max=80)])


class PlatformForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    domains = TextAreaField("Domains, one per line (subdomains match)",
                            validators=[DataRequired()])
    channel = SelectField("How it takes notices", choices=[
        ("email", "E-mail"), ("api", "HTTP API"), ("webform", "Web form filled by hand"),
        ("none", "None yet")])
    contact = StringField("E-mail address, API endpoint or web form URL",
                          validators=[Optional(), Length(max=500)])
    jurisdiction = StringField("Jurisdiction (EU, US, FR…)",
                               validators=[Optional(), Length(max=10)])
    deadline_hours = IntegerField("Deadline in hours", default=48,
                                  validators=[DataRequired(), NumberRange(1, 2160)])
    trusted_flagger = BooleanField("We have trusted-flagger standing with this platform")
    default_legal_basis = SelectField("Default legal basis",
                                      choices=list(LEGAL_BASIS_NAMES.items()))
    soft_404_markers = TextAreaField("Removal rule: text on a page that means the item is gone, "
                                     "one per line", validators=[Optional()])
    placeholder_redirects = TextAreaField("Removal rule: URLs a removed item redirects to, one per "
                                          "line", validators=[Optional()])
    placeholder_digests = TextAreaField("Removal rule: SHA-256 of placeholder images, one per line",
                                        validators=[Optional()])
    notes = TextAreaField("Notes for caseworkers", validators=[Optional(), Length(max=5000)])


class ImportForm(FlaskForm):
    file = FileField("YAML file", validators=[FileRequired()])


class ReferralForm(FlaskForm):
    recipient = SelectField("Sent to", choices=list(RECIPIENTS.items()))
    hotline_name = StringField("Partner hotline's name", validators=[Optional(), Length(max=30)])
    language = SelectField("Language of the summary", choices=[("fr", "FR"), ("en", "EN")])
    summary = TextAreaField("Summary", validators=[DataRequired(), Length(max=20000)])
    their_reference = StringField("Their reference (optional)",
                                  validators=[Optional(), Length(max=120)])
