"""Log in (password, then TOTP or a recovery code), TOTP enrolment, log out, own account."""
from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from disrupt.accounts import totp
from disrupt.accounts.access import role_required
from disrupt.accounts.forms import (
    ChangePasswordForm,
    EnrolForm,
    LoginForm,
    NewRecoveryCodesForm,
    SecondFactorForm,
)
from disrupt.accounts.models import User
from disrupt.accounts.services import (
    AccountError,
    account_delay,
    address_throttled,
    authenticate,
    begin_totp_enrolment,
    change_own_password,
    complete_login,
    confirm_totp_enrolment,
    locked_for_client,
    new_recovery_codes,
    record_audit,
    recovery_codes_left,
    verify_second_factor,
)
from disrupt.request import (
    STAFF_SESSION_KEY,
    audit,
    cipher,
    commits_refusals,
    db_session,
    end_session,
    login_manager,
    now,
    start_session,
)

bp = Blueprint("accounts", __name__, url_prefix="/console")

# Between the password and the second factor: how long the half-done login lasts.
PENDING_SECONDS = 300
WRONG_LOGIN = "Wrong e-mail or password, or the account is locked."
WRONG_CODE = "That code is not right, was already used, or the account is locked."


def _remote() -> str | None:
    return request.remote_addr


def _begin_pending(user: User, stage: str) -> None:
    end_session(STAFF_SESSION_KEY, "logout")
    session.clear()
    session["pending_login"] = {"uid": user.id, "nonce": user.session_nonce, "stage": stage,
                                "at": int(time.time())}


def _pending_user(stage: str) -> User | None:
    pending = session.get("pending_login")
    if not isinstance(pending, dict) or pending.get("stage") != stage:
        return None
    if time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop("pending_login", None)
        return None
    user = db_session().get(User, pending.get("uid"))
    if user is None or not user.active or user.session_nonce != pending.get("nonce"):
        return None
    return user


def _finish_login(user: User) -> None:
    """Both factors passed: a new server-side session; the cookie holds only its token."""
    complete_login(user, now())
    session.clear()
    start_session("staff", STAFF_SESSION_KEY, user=user)
    login_manager._update_request_context_with_user(user)


def _throttled() -> bool:
    return address_throttled(db_session(), _remote(), now())


def _slow_down(user: User | None) -> None:
    """Wait before answering about an account under guessing; the transaction is closed
    first, so no lock is held while waiting."""
    delay = account_delay(db_session(), user, now())
    if delay > 0:
        db_session().commit()
        time.sleep(delay)


@bp.route("/login", methods=["GET", "POST"])
@commits_refusals
def login():
    if current_user.is_authenticated:
        return redirect(url_for("cases.queue"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        session_ = db_session()
        if _throttled():
            abort(429)
        known = session_.scalar(
            select(User).where(User.email == form.email.data.strip().lower()))
        _slow_down(known)
        user = authenticate(session_, form.email.data, form.password.data, now(), _remote())
        if user is None:
            record_audit(session_, action="login_failed", now=now(), actor_kind="anonymous",
                         record=known,
                         remote_addr=_remote(), step="password")
            error = WRONG_LOGIN
        else:
            if not user.totp_enrolled:  # the secret to scan, made here so that GETs never write
                begin_totp_enrolment(user, cipher())
            _begin_pending(user, "verify" if user.totp_enrolled else "enrol")
            return redirect(url_for("accounts.second_factor" if user.totp_enrolled
                                    else "accounts.enrol"))
    return render_template("accounts/login.html", form=form, error=error), (401 if error else 200)


@bp.route("/login/code", methods=["GET", "POST"])
@commits_refusals
def second_factor():
    user = _pending_user("verify")
    if user is None:
        flash("Please log in again.")
        return redirect(url_for("accounts.login"))
    form = SecondFactorForm()
    error = None
    if form.validate_on_submit():
        session_ = db_session()
        if _throttled():
            abort(429)
        _slow_down(user)
        method = verify_second_factor(session_, user, form.code.data, cipher(), now(),
                                      _remote())
        if method is None:
            record_audit(session_, action="second_factor_failed", now=now(), record=user,
                         actor_kind="anonymous", remote_addr=_remote())
            error = WRONG_CODE
        else:
            _finish_login(user)
            audit("login", user, method=method)
            left = recovery_codes_left(session_, user) if method == "recovery" else None
            if left is not None:
                flash(f"You used a recovery code; {left} left. Make new ones on your account "
                      "page if you are running short.")
            return redirect(_next_url())
    return (render_template("accounts/second_factor.html", form=form, error=error),
            401 if error else 200)


def _next_url() -> str:
    target = request.args.get("next", "")
    if target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("cases.queue")


@bp.route("/enrol", methods=["GET", "POST"])
@commits_refusals
def enrol():
    """The second factor is required: an account without one sets it up before anything."""
    user = _pending_user("enrol")
    if user is None:
        flash("Please log in again.")
        return redirect(url_for("accounts.login"))
    session_ = db_session()
    secret = begin_totp_enrolment(user, cipher())
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = confirm_totp_enrolment(session_, user, form.code.data, cipher(), now())
        except AccountError as exc:
            form.code.errors.append(str(exc))
            record_audit(session_, action="second_factor_failed", now=now(), record=user,
                         actor_kind="anonymous", remote_addr=_remote(), step="enrolment")
        else:
            _finish_login(user)
            audit("totp_enrolled", user)
            return render_template("accounts/recovery_codes.html", codes=codes, first=True)
    uri = totp.provisioning_uri(secret, user.email, current_app.config["ORGANISATION_NAME"])
    return render_template(
        "accounts/enrol.html", form=form, qr=Markup(totp.qr_svg(uri)),
        secret=totp.format_secret(secret), user=user,
    ), (400 if form.errors else 200)


@bp.post("/logout")
@role_required()
def logout():
    audit("logout", current_user._get_current_object())
    end_session(STAFF_SESSION_KEY, "logout")
    logout_user()
    session.clear()
    return redirect(url_for("accounts.login"))


@bp.route("/account", methods=["GET", "POST"])
@role_required()
@commits_refusals
def account():
    session_ = db_session()
    user = current_user._get_current_object()
    form = NewRecoveryCodesForm()
    if form.validate_on_submit():
        method = verify_second_factor(session_, user, form.code.data, cipher(), now(),
                                      _remote())
        if method == "totp":
            codes = new_recovery_codes(session_, user, now())
            audit("recovery_codes_renewed", user)
            return render_template("accounts/recovery_codes.html", codes=codes, first=False)
        audit("second_factor_failed", user, step="renew_recovery_codes")
        form.code.errors.append("That code is not right. Use the code your app shows now.")
    return _account_page(form=form)


def _account_page(**forms: Any):
    forms.setdefault("form", NewRecoveryCodesForm(formdata=None))
    forms.setdefault("password_form", ChangePasswordForm(formdata=None))
    user = current_user._get_current_object()
    return render_template("accounts/account.html",
                           codes_left=recovery_codes_left(db_session(), user), **forms), \
        (400 if any(f.errors for f in forms.values()) else 200)


@bp.post("/account/password")
@role_required()
@commits_refusals
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(user, form.current.data, form.new.data, form.repeated.data,
                                now())
        except AccountError as exc:
            if exc.field == "current":  # counted like a failed login
                audit("password_change_failed", user)
            if locked_for_client(db_session(), user, _remote(), now()):  # the session ends
                logout_user()
                session.clear()
                return redirect(url_for("accounts.login"))
            form[exc.field or "new"].errors.append(str(exc))
        else:
            audit("password_changed", user)
            logout_user()
            session.clear()
            flash("Your password is changed. Every session of yours has ended: log in with "
                  "the new password.")
            return redirect(url_for("accounts.login"))
    return _account_page(password_form=form)

