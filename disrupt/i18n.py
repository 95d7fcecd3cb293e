"""French and English for the portal (Flask-Babel); the console's words stay in English.
Every date and time a person reads, on the portal and on the console, goes through the
`moment` filter: the organisation's one time zone (ORGANISATION_TIMEZONE), the reader's
language."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from babel.support import NullTranslations
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Babel, get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

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


def catalogue() -> NullTranslations:
    """The translations of the language being written, found once per request and language
    (Flask-Babel finds them again at each call, a dozen context look-ups). A page written in
    another language (force_locale) has another locale object, so it gets its own."""
    if not has_app_context():
        return get_translations()
    locale = get_locale()
    found = g.get("_catalogue")
    if found is None or found[0] is not locale:
        found = g._catalogue = (locale, get_translations())
    return found[1]


CATALOGUE_KEY = "i18n_catalogue"


@pass_context
def template_gettext(context: Context, text: str, **variables: Any) -> str:
    """`_()` in templates, written as Jinja's newstyle gettext writes it (escaped, always
    formatted), with the catalogue the page was rendered with: a portal page has ~50
    strings. A macro imported without context finds the catalogue itself."""
    given = context.get(CATALOGUE_KEY)
    translated: str = (given if given is not None else catalogue()).ugettext(text)
    if context.eval_ctx.autoescape:
        translated = Markup(translated)
    return translated % variables


def init_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations_dir())
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["ORGANISATION_TIMEZONE"]
    # Kept as a name: a wrong one is reported by `disrupt doctor`, not by a crash here.
    app.extensions["disrupt.organisation_zone"] = app.config["ORGANISATION_TIMEZONE"]
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["_"] = template_gettext  # in place of the i18n extension's `_`
    app.add_template_filter(moment, "moment")

    @app.context_processor
    def _language() -> dict[str, Any]:
        return {"lang": current_language(), "portal_languages": PORTAL_LANGUAGES,
                CATALOGUE_KEY: catalogue()}
