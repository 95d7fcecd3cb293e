from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from disrupt.accounts.models import ROLES
from disrupt.validators import RECORD_ID, DayInRange

ROLE_CHOICES = [(role, role) for role in ROLES]


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class SecondFactorForm(FlaskForm):
    code = StringField("Code from your authenticator app, or a recovery code",
                       validators=[DataRequired(), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text",
                                  "autofocus": True})


class EnrolForm(FlaskForm):
    code = StringField("The 6-digit code your app shows now",
                       validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class NewRecoveryCodesForm(FlaskForm):
    code = StringField("Current code from your authenticator app",
                       validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("New password (12+ characters)", validators=[DataRequired()],
                        render_kw={"autocomplete": "new-password"})
    repeated = PasswordField("New password again", validators=[DataRequired()],
                             render_kw={"autocomplete": "new-password"})


class CreateUserForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="caseworker")
    password = PasswordField("Initial password (12+ characters; give it in person)",
                             validators=[DataRequired(), Length(min=12, max=200)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class UserActionForm(FlaskForm):
    """Disable, enable, unlock, reset 2FA: a button and its CSRF token."""


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    actor = SelectField("Who", coerce=str, validators=[Optional()])
    action = SelectField("Action", coerce=str, validators=[Optional()])
    record_type = SelectField("Record", coerce=str, validators=[Optional()], choices=[
        ("", "any"), ("cases", "case"), ("reported_urls", "URL"),
        ("removal_requests", "removal request"), ("notes", "note"), ("messages", "message"),
        ("referrals", "referral"), ("users", "user")])
    record_id = IntegerField("Record id", validators=[Optional(), RECORD_ID])
    case_id = IntegerField("Case id", validators=[Optional(), RECORD_ID])
    since = DateField("From (date)", validators=[Optional(), DayInRange()])
    until = DateField("Until (date, inclusive)", validators=[Optional(), DayInRange()])
