"""French and English for the portal (Flask-Babel); the console's words stay in English.
Every date and time a person reads, on the portal and on the console, goes through the
`moment` filter: the organisation's one time zone (ORGANISATION_TIMEZONE), the reader's
language."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale

from disrupt.dates import MomentForm, format_moment
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


def reading_language() -> str:
    """The language dates are written in: the portal's; on the console (whose words are
    English), the staff member's browser language if the portal speaks it."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if request.path.startswith("/console"):
        return request.accept_languages.best_match(list(PORTAL_LANGUAGES), DEFAULT_LANGUAGE)
    return current_language()


def organisation_zone() -> tzinfo:
    return ZoneInfo(current_app.extensions["disrupt.organisation_zone"])


def moment(value: datetime | str | None, form: MomentForm = "long",
           language: str | None = None) -> str:
    """The `moment` filter: `{{ case.created_at|moment('short') }}` (see disrupt.dates); a
    page written in a language of its own (the transparency report) passes it."""
    return format_moment(value, zone=organisation_zone(),
                         language=language or reading_language(), form=form)


def init_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations_dir())
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["ORGANISATION_TIMEZONE"]
    # Kept as a name: a wrong one is reported by `disrupt doctor`, not by a crash here.
    app.extensions["disrupt.organisation_zone"] = app.config["ORGANISATION_TIMEZONE"]
    Babel(app, locale_selector=select_locale)
    app.add_template_filter(moment, "moment")

    @app.context_processor
    def _language() -> dict[str, Any]:
        return {"lang": current_language(), "portal_languages": PORTAL_LANGUAGES}
