from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from disrupt.validators import DayInRange

PERIOD_CHOICES = [("all", "All time"), ("week", "Week"), ("month", "Month"), ("year", "Year"),
                  ("custom", "Custom dates")]
BY_CHOICES = [("month", "month"), ("week", "week"), ("year", "year")]


class StatisticsFilterForm(FlaskForm):
    """The dashboard's selection, read from the query string (a GET form changes nothing,
    so it carries no CSRF token)."""

    class Meta:
        csrf = False

    period = SelectField("Period", choices=PERIOD_CHOICES, default="all")
    at = DateField("Containing the day", validators=[Optional(), DayInRange()])
    since = DateField("From (first request sent on or after)",
                      validators=[Optional(), DayInRange()])
    until = DateField("Until (sent before)", validators=[Optional(), DayInRange()])
    platform = SelectField("Platform", coerce=str, default="")
    by = SelectField("Trend by", choices=BY_CHOICES, default="month")

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.period.data == "custom" and not (self.since.data or self.until.data):
            self.since.errors.append("Give a start date, an end date or both.")
            return False
        if self.since.data and self.until.data and self.since.data >= self.until.data:
            self.until.errors.append("The end date must come after the start date.")
            return False
        return True

