from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from disrupt.accounts.forms import LoginForm
from disrupt.accounts.services import authenticate, record_audit
from disrupt.web import audit, db_session, now

bp = Blueprint("accounts", __name__, url_prefix="/console")


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logged in, and (when roles are given) holding one of them."""
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @login_required
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        session_ = db_session()
        user = authenticate(session_, form.email.data, form.password.data, now())
        if user is None:
            record_audit(session_, action="login_failed", now=now(), actor_kind="anonymous",
                         remote_addr=request.remote_addr)
            session_.commit()
            error = "Wrong e-mail or password, or the account is locked."
        else:
            session.clear()
            session.permanent = True
            login_user(user)
            audit("login", user)
            session_.commit()
            return redirect(url_for("cases.queue"))
    return render_template("accounts/login.html", form=form, error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    audit("logout", current_user._get_current_object())
    db_session().commit()
    logout_user()
    session.clear()
    return redirect(url_for("accounts.login"))
