"""The configure steps of create_app: settings, database, security, blueprints, errors.

The glue the blueprints share lives in disrupt/request.py: the factory imports the
blueprints, and nothing a blueprint imports imports the factory."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, flash, g, has_request_context, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext, lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

import disrupt.config as settings
from disrupt.db import Database
from disrupt.paths import private_folder
from disrupt.request import (
    STAFF_SESSION_KEY,
    csrf,
    db_session,
    end_transaction,
    login_manager,
    resume_session,
    session_ended_by,
)
from disrupt.security import DataCipher

HSTS_SECONDS = 63_072_000  # two years

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# The hash worker decodes HEIC photos with libheif compiled to WebAssembly: its own policy
# (a worker's is that of its script's response) also lets it compile WebAssembly, and
# nothing else — 'wasm-unsafe-eval' allows no JavaScript eval.
HASH_WORKER_PATH = "/static/js/hashing/hash-worker.js"
HASH_WORKER_POLICY = CONTENT_SECURITY_POLICY.replace("script-src 'self'",
                                                     "script-src 'self' 'wasm-unsafe-eval'")


def configure_settings(app: Flask, overrides: Mapping[str, Any]) -> None:
    if "INSTANCE_PATH" in overrides:
        app.instance_path = str(overrides["INSTANCE_PATH"])
    elif os.environ.get("DISRUPT_INSTANCE_PATH"):
        app.instance_path = os.environ["DISRUPT_INSTANCE_PATH"]
    app.config.update({name: default for name, (default, _) in settings.SETTINGS.items()})
    app.config.from_pyfile(os.path.join(app.instance_path, "config.py"), silent=True)
    app.config.update(settings.from_environment())
    app.config.update(overrides)
    private_folder(Path(app.instance_path))
    settings.finish(app.config, Path(app.instance_path))
    # Werkzeug refuses a larger body (413) from its Content-Length, before reading it.
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_REQUEST_BYTES"])
    app.config["MAX_FORM_MEMORY_SIZE"] = int(app.config["MAX_REQUEST_BYTES"])
    # Session cookies (no Expires): sessions end on the server (accounts/sessions.py).
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,
        # Flask-WTF's HTTPS check wants a Referer, which "Referrer-Policy: no-referrer" stops
        # browsers from sending: every form would fail over HTTPS. The session-bound CSRF
        # token and the SameSite cookie remain.
        WTF_CSRF_SSL_STRICT=False,
    )


def configure_database(app: Flask, _overrides: Mapping[str, Any]) -> None:
    app.extensions["disrupt.db"] = Database(app.config["DATABASE_URL"])
    app.extensions["disrupt.cipher"] = DataCipher(app.config["DATA_KEY"])
    app.after_request(end_transaction)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def configure_security(app: Flask, _overrides: Mapping[str, Any]) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    # Our own server-side sessions bind the client (sessions.py); flask-login only holds
    # the user of the request.
    login_manager.session_protection = None

    app.session_interface = _SessionInterface()

    @login_manager.request_loader
    def _load_user(_request: Any) -> Any:
        """The staff member of this browser's server-side session, if it is still live."""
        from disrupt.accounts.models import User

        record = resume_session("staff", STAFF_SESSION_KEY, app.config["SESSION_IDLE_MINUTES"])
        if record is None:
            if session_ended_by("staff") == "idle":
                flash("Your session ended after a period without activity. Please log in "
                      "again.")
            return None
        return db_session().get(User, record.user_id)

    @app.after_request
    def _headers(response):
        response.headers["Content-Security-Policy"] = (
            HASH_WORKER_POLICY if request.path == HASH_WORKER_PATH else CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}"
        return response


def configure_proxy(app: Flask, _overrides: Mapping[str, Any]) -> None:
    """Behind PROXY_FIX_HOPS reverse proxies, trust their X-Forwarded-For/-Proto/-Host (the
    client's address for throttles and sessions; HTTPS for Secure cookies and HSTS)."""
    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops,
                                x_host=hops)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, holding only opaque tokens (and the CSRF token, language and
    flashes), marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure)


def configure_i18n(app: Flask, _overrides: Mapping[str, Any]) -> None:
    from disrupt.i18n import init_i18n

    init_i18n(app)


def configure_blueprints(app: Flask, _overrides: Mapping[str, Any]) -> None:
    from disrupt.accounts import admin_views  # noqa: F401  (its routes are on accounts_bp)
    from disrupt.accounts.views import bp as accounts_bp
    from disrupt.console.views import bp as cases_bp
    from disrupt.dashboard.views import bp as dashboard_bp
    from disrupt.evidence.views import bp as evidence_bp
    from disrupt.platforms.exchange.views import admin as exchange_admin_bp
    from disrupt.platforms.exchange.views import api as exchange_api_bp
    from disrupt.platforms.views import bp as platforms_bp
    from disrupt.victims.views import bp as victims_bp

    for blueprint in (victims_bp, accounts_bp, cases_bp, dashboard_bp, exchange_api_bp,
                      exchange_admin_bp, platforms_bp, evidence_bp):
        app.register_blueprint(blueprint)
    from disrupt.logs import init_request_ids
    from disrupt.operations.views import bp as operations_bp
    from disrupt.operations.views import init_banner
    from disrupt.wording import init_wording

    app.register_blueprint(operations_bp)
    init_banner(app)
    init_request_ids(app)
    init_wording(app)
    if app.config.get("DEMO_MAIL_DIR"):
        from disrupt.demo.views import bp as demo_bp

        app.register_blueprint(demo_bp)


def configure_errors(app: Flask, _overrides: Mapping[str, Any]) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return render_template("errors/error.html", code=400,
                               message=gettext("This form has expired. Please go back and try "
                                               "again: what you typed is still on the previous "
                                               "page.")), 400

    for code, message in ((403, lazy_gettext("You do not have access to this page.")),
                          (404, lazy_gettext("This page does not exist.")),
                          (413, lazy_gettext("This form is too large to send, so nothing was "
                                             "saved. Please go back: what you typed is still "
                                             "on the previous page. Send fewer images or web "
                                             "addresses at a time.")),
                          (429, lazy_gettext("Too many attempts. Please wait a few minutes and "
                                             "try again."))):
        def handler(error: Exception, code: int = code, message: Any = message):
            return render_template("errors/error.html", code=code, message=str(message)), code

        app.register_error_handler(code, handler)
