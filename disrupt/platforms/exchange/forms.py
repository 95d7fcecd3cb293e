from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length


class APIClientForm(FlaskForm):
    platform_id = SelectField("Platform", coerce=int, validators=[DataRequired()])
    name = StringField("Name (e.g. the platform's HMA instance)", validators=[Length(max=120)])


class RevokeForm(FlaskForm):
    pass
