"""Dates and times as people read them: in the organisation's one time zone, in the reader's
language, with the zone's abbreviation. Machine-readable outputs (CSV exports, JSON, the
exchange API, notices' UTC timestamps) keep ISO 8601 or UTC and never come here."""
from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_time, get_timezone_name

MomentForm = Literal["long", "short", "seconds", "day"]

# CLDR joins a long date and a time with a comma in French too; "à" is what French readers
# write ("5 décembre 2026 à 10:22").
_LONG_JOIN = {"fr": "{1} à {0}"}


def zone_abbreviation(local: datetime) -> str:
    """The zone's abbreviation at that instant (CET or CEST, EST or EDT); zones without one
    give their offset, written "UTC+03"."""
    abbreviation = local.tzname() or ""
    return f"UTC{abbreviation}" if abbreviation.startswith(("+", "-")) else abbreviation


def zone_name(zone: tzinfo, local: datetime, locale: Locale) -> str:
    """The zone's name in the reader's language, the same all year ("Central European Time");
    a zone CLDR has no such name for (UTC, Etc/GMT-3) gives its name at that instant."""
    if getattr(zone, "key", None) in get_global("meta_zones"):
        return get_timezone_name(zone, locale=locale)
    return get_timezone_name(local, locale=locale)


def format_moment(moment: datetime | str | None, *, zone: tzinfo, language: str,
                  form: MomentForm = "long") -> str:
    """An instant as a person reads it, in `zone` and in `language`'s format.

    long: "5 décembre 2026 à 10:22 CET (heure d’Europe centrale)", for a sentence;
    short: "Dec 5, 2026, 10:22 AM CET", for a table; seconds: the same with seconds;
    day: "December 5, 2026". A naive datetime or ISO string counts as UTC (the database's)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en")
    local = moment.astimezone(zone)
    if form == "day":
        return format_date(local, "long", locale=locale)
    abbreviation = zone_abbreviation(local)
    if form == "long":
        join = _LONG_JOIN.get(locale.language) or str(locale.datetime_formats["long"])
        text = join.replace("'", "").format(format_time(local, "short", locale=locale),
                                            format_date(local, "long", locale=locale))
        return f"{text} {abbreviation} ({zone_name(zone, local, locale)})"
    time = format_time(local, "medium" if form == "seconds" else "short", locale=locale)
    text = str(locale.datetime_formats["medium"]).replace("'", "").format(
        time, format_date(local, "medium", locale=locale))
    return f"{text} {abbreviation}"
