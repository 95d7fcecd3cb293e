"""Admins manage accounts; supervisors and admins read the audit log. Every change audited."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from disrupt.accounts.access import role_required
from disrupt.accounts.audit import AuditFilter, audit_csv, audit_page, known_actions
from disrupt.accounts.forms import AuditFilterForm, CreateUserForm, RoleForm, UserActionForm
from disrupt.accounts.models import ROLES, User
from disrupt.accounts.services import (
    AccountError,
    create_user,
    is_locked,
    locked_addresses,
    reset_totp,
    set_active,
    set_role,
    unlock,
)
from disrupt.accounts.views import bp
from disrupt.request import audit, db_session, now
from disrupt.validators import RECORD_ID

AUDIT_PAGE = 100


def _other_user(user_id: int) -> User:
    user = db_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/admin/users")
@role_required("admin")
def users():
    session_ = db_session()
    rows = list(session_.scalars(select(User).order_by(User.active.desc(), User.email)))
    return render_template("admin/users.html", users=rows, is_locked=is_locked, now=now(),
                           roles=ROLES, locked_addresses=locked_addresses(session_, now()))


@bp.route("/admin/users/new", methods=["GET", "POST"])
@role_required("admin")
def new_user():
    form = CreateUserForm()
    if form.validate_on_submit():
        session_ = db_session()
        try:
            user = create_user(session_, email=form.email.data, name=form.name.data,
                               password=form.password.data, role=form.role.data, now=now())
        except AccountError as exc:
            field = form.email if "e-mail" in str(exc) else form.password
            field.errors.append(str(exc))
        else:
            audit("create_user", user, role=user.role)
            flash(f"Account {user.email} created. They set up their second factor at their "
                  "first log in.")
            return redirect(url_for("accounts.users"))
    return render_template("admin/new_user.html", form=form), (400 if form.errors else 200)


@bp.post("/admin/users/<int:user_id>/role")
@role_required("admin")
def change_role(user_id: int):
    user = _other_user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    if user.id == current_user.id:
        flash("You cannot change your own role: ask another admin.")
        return redirect(url_for("accounts.users"))
    if user.role != form.role.data:
        old = user.role
        set_role(user, form.role.data)
        audit("change_role", user, old=old, new=user.role)
        flash(f"{user.email} is now {user.role}.")
    return redirect(url_for("accounts.users"))


@bp.post("/admin/users/<int:user_id>/<any(disable, enable, unlock, reset2fa):action>")
@role_required("admin")
def user_action(user_id: int, action: str):
    user = _other_user(user_id)
    if not UserActionForm().validate_on_submit():
        abort(400)
    if user.id == current_user.id and action in ("disable", "reset2fa"):
        flash("You cannot do that to your own account: ask another admin.")
        return redirect(url_for("accounts.users"))
    if action == "disable":
        set_active(user, False)
    elif action == "enable":
        set_active(user, True)
    elif action == "unlock":
        unlock(user, now())
    else:
        reset_totp(db_session(), user)
    audit({"disable": "disable_user", "enable": "enable_user", "unlock": "unlock_user",
           "reset2fa": "reset_second_factor"}[action], user)
    flash(f"{user.email}: done ({action}).")
    return redirect(url_for("accounts.users"))


def _audit_filter(form: AuditFilterForm) -> AuditFilter:
    def day(value: object, plus: int = 0) -> datetime | None:
        if value is None:
            return None
        return datetime.combine(value, time(), tzinfo=UTC) + timedelta(days=plus)

    actor = form.actor.data
    return AuditFilter(
        actor_id=int(actor) if actor and actor.isdigit() else None,
        action=form.action.data or None,
        record_type=form.record_type.data or None,
        record_id=form.record_id.data,
        case_id=form.case_id.data,
        since=day(form.since.data),
        until=day(form.until.data, plus=1),
    )


def _audit_form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    session_ = db_session()
    form.actor.choices = [("", "anyone")] + [
        (str(u.id), u.email) for u in session_.scalars(select(User).order_by(User.email))]
    form.action.choices = [("", "any")] + [(a, a) for a in known_actions(session_)]
    return form


@bp.get("/audit")
@role_required("supervisor", "admin")
def audit_log():
    form = _audit_form()
    if not form.validate():
        return render_template("admin/audit.html", form=form, rows=[], older=None,
                               export=None), 400
    before = request.args.get("before", type=int)
    if before is not None and not 1 <= before <= RECORD_ID.max:
        before = None
    rows = audit_page(db_session(), _audit_filter(form), before_id=before, limit=AUDIT_PAGE + 1)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    older = url_for("accounts.audit_log", **args, before=rows[-1][0].id) if more else None
    return render_template("admin/audit.html", form=form, rows=rows, older=older,
                           export=url_for("accounts.audit_export", **args))


@bp.get("/audit.csv")
@role_required("supervisor", "admin")
def audit_export():
    form = _audit_form()
    if not form.validate():
        errors = "; ".join(f"{name}: {' '.join(messages)}"
                           for name, messages in form.errors.items())
        return Response(f"Nothing exported: {errors}\n", status=400, mimetype="text/plain")
    where = _audit_filter(form)
    session_ = db_session()
    audit("export_audit", None, **{k: v for k, v in request.args.items() if v})
    stamp = now().strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(audit_csv(session_, where)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
