"""The configure steps of create_app and the Flask glue shared by the blueprints."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    render_template,
    request,
    session,
)
from flask_babel import gettext, lazy_gettext
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session

from disrupt import config as settings
from disrupt.db import Database, utcnow
from disrupt.security import DataCipher

csrf = CSRFProtect()
login_manager = LoginManager()

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
    settings.finish(app.config, Path(app.instance_path))
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    app.config.update(
        PERMANENT_SESSION_LIFETIME=idle,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,
    )


def configure_database(app: Flask, _overrides: Mapping[str, Any]) -> None:
    app.extensions["disrupt.db"] = Database(app.config["DATABASE_URL"])
    app.extensions["disrupt.cipher"] = DataCipher(app.config["DATA_KEY"])

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
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load_user(user_id: str) -> Any:
        from disrupt.accounts.models import User

        uid, _, nonce = user_id.partition(":")
        if not uid.isdigit():
            return None
        user = db_session().get(User, int(uid))
        if user is None or not user.active or user.session_nonce != nonce:
            return None  # disabled, re-roled or 2FA reset since: the session ends
        return user

    @app.before_request
    def _idle_timeout() -> None:
        """Sessions end after SESSION_IDLE_MINUTES without a request (checked here on the
        server, not only by the cookie's expiry)."""
        if "_user_id" not in session:
            return
        idle = app.config["SESSION_IDLE_MINUTES"] * 60
        seen = session.get("seen")
        current = time.time()
        if not isinstance(seen, int | float) or current - seen > idle:
            logout_user()
            session.clear()
            flash("Your session ended after a period without activity. Please log in again.")
            return
        session["seen"] = int(current)

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        response.headers["Content-Security-Policy"] = (
            HASH_WORKER_POLICY if request.path == HASH_WORKER_PATH else CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response


def configure_i18n(app: Flask, _overrides: Mapping[str, Any]) -> None:
    from disrupt.victims.i18n import init_i18n

    init_i18n(app)


def configure_blueprints(app: Flask, _overrides: Mapping[str, Any]) -> None:
    from disrupt.accounts.views import bp as accounts_bp
    from disrupt.cases.views import bp as cases_bp
    from disrupt.dashboard.views import bp as dashboard_bp
    from disrupt.platforms.exchange.views import admin as exchange_admin_bp
    from disrupt.platforms.exchange.views import api as exchange_api_bp
    from disrupt.platforms.views import bp as platforms_bp
    from disrupt.victims.views import bp as victims_bp

    for blueprint in (victims_bp, accounts_bp, cases_bp, dashboard_bp, exchange_api_bp,
                      exchange_admin_bp, platforms_bp):
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
    def _csrf(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_template("errors/error.html", code=400,
                               message=gettext("This form has expired. Please go back and try "
                                               "again: what you typed is still on the previous "
                                               "page.")), 400

    for code, message in ((403, lazy_gettext("You do not have access to this page.")),
                          (404, lazy_gettext("This page does not exist.")),
                          (429, lazy_gettext("Too many attempts. Please wait a few minutes and "
                                             "try again."))):
        def handler(error: Exception, code: int = code, message: Any = message):  # type: ignore[no-untyped-def]
            return render_template("errors/error.html", code=code, message=str(message)), code

        app.register_error_handler(code, handler)


def database() -> Database:
    return current_app.extensions["disrupt.db"]


def cipher() -> DataCipher:
    return current_app.extensions["disrupt.cipher"]


def db_session() -> Session:
    """The request's session; the view commits.

    A form post reads, then writes: on SQLite its transaction takes the write lock at BEGIN
    (waiting up to the busy timeout), so a worker committing in between cannot make the
    write fail with "database is locked" (a stale WAL snapshot is never retried)."""
    if "db_session" not in g:
        writes = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        db = database()
        g.db_session = (db.writer_sessionmaker if writes else db.sessionmaker)()
    return g.db_session


def now() -> datetime:
    return utcnow()


def audit(action: str, record: Any = None, **detail: Any) -> None:
    """Record a caseworker action in the audit log, in the view's transaction."""
    from disrupt.accounts.services import record_audit

    actor = current_user if current_user.is_authenticated else None
    record_audit(db_session(), action=action, now=now(), actor=actor, record=record,
                 remote_addr=request.remote_addr, **detail)
