from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from disrupt.platforms.services import LEGAL_BASIS_NAMES, NOTICE_LANGUAGES


class AddURLForm(FlaskForm):
    url = StringField("Web address", validators=[DataRequired(), Length(max=2048)])


class RemovalRequestForm(FlaskForm):
    url_ids = SelectMultipleField("URLs", coerce=int, validators=[DataRequired()])
    legal_basis = SelectField("Legal basis", choices=list(LEGAL_BASIS_NAMES.items()))
    language = SelectField("Language", choices=[(lang, lang.upper()) for lang in NOTICE_LANGUAGES])


class AssignForm(FlaskForm):
    pass
