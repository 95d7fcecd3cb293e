"""French and English for the portal (Flask-Babel). The console stays in English."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import get_timezone_name
from flask import Flask, request, session
from flask_babel import Babel, format_date, format_time, get_locale, get_timezone, gettext

from disrupt.paths import translations_dir

PORTAL_LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "lang"


def select_locale() -> str:
    """The language the victim chose (kept in the session), else the browser's preference."""
    if request.path.startswith("/console"):
        return "en"
    chosen = session.get(SESSION_KEY)
    if chosen in PORTAL_LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(PORTAL_LANGUAGES), DEFAULT_LANGUAGE)


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def format_moment(moment: datetime | None) -> str:
    """A date and time in the organisation's one time zone (PORTAL_TIMEZONE), in the reader's
    language, with the zone's name: "5 December 2026, 10:22 (Central European Time)"."""
    if moment is None:
        return ""
    locale = get_locale()
    return gettext("%(date)s, %(time)s (%(zone)s)", date=format_date(moment, "long"),
                   time=format_time(moment, "short"),
                   zone=get_timezone_name(get_timezone(), locale=locale))


def init_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations_dir())
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["PORTAL_TIMEZONE"]
    Babel(app, locale_selector=select_locale)
    app.add_template_filter(format_moment, "moment")

    @app.context_processor
    def _language() -> dict[str, Any]:
        return {"lang": current_language(), "portal_languages": PORTAL_LANGUAGES}
