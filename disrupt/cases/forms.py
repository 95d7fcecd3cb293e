from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from disrupt.cases.models import AGE_GROUPS
from disrupt.cases.services import CLOSE_OUTCOMES, MAX_MESSAGE, MAX_NOTE


class AddURLForm(FlaskForm):
    urls = TextAreaField(
        "Web addresses (one per line; paste as many as you need)",
        validators=[DataRequired(), Length(max=2_000_000)],
        render_kw={"rows": 4, "spellcheck": "false", "autocomplete": "off"})


class AssignForm(FlaskForm):
    """Assign to me (no field), or, for supervisors, to anyone; empty releases the case."""

    assignee = SelectField("Assign to", coerce=str, validate_choice=False)


class StatusForm(FlaskForm):
    outcome = SelectField("Outcome", choices=[("", "choose…"), *CLOSE_OUTCOMES.items()],
                          validate_choice=False)  # checked by close_case


class ClassifyForm(FlaskForm):
    age_group = SelectField("Age of the person when the images were made",
                            choices=[(g, {"adult": "adult", "minor": "under 18",
                                          "unknown": "not known"}[g]) for g in AGE_GROUPS])
    high_priority = BooleanField("High priority")


class NoteForm(FlaskForm):
    body = TextAreaField("Internal note (never shown to the victim)",
                         validators=[DataRequired(), Length(max=MAX_NOTE)],
                         render_kw={"rows": 3})


class MessageForm(FlaskForm):
    body = TextAreaField("Message to the victim (shown on their status page)",
                         validators=[DataRequired(), Length(max=MAX_MESSAGE)],
                         render_kw={"rows": 3})


class ShareHashForm(FlaskForm):
    """The decision to share a minor's or a weak fingerprint."""


class URLActionForm(FlaskForm):
    """A button on one address (picture seen, check again): CSRF only."""


class ReadMessagesForm(FlaskForm):
    """The "mark as read" button: CSRF only."""
