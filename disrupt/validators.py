"""Bounds for values typed into the console's search and selection forms, so that a far
date or a huge number is a message beside the field, never an overflow (a 500)."""
from __future__ import annotations

from datetime import date
from typing import Any

from wtforms.validators import NumberRange, ValidationError

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
#: Record ids are 32-bit integers on PostgreSQL.
RECORD_ID = NumberRange(min=1, max=2**31 - 1, message="Give a number from 1 to 2147483647.")


class DayInRange:
    """A day between FIRST_DAY and LAST_DAY (periods and weeks around it stay valid dates)."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
            raise ValidationError(f"Choose a day between {FIRST_DAY.isoformat()} and "
                                  f"{LAST_DAY.isoformat()}.")
