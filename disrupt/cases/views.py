"""Caseworker console: the queue and the case page."""
from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from disrupt.accounts.views import role_required
from disrupt.cases.forms import AddURLForm, AssignForm, RemovalRequestForm
from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.services import DuplicateURL, InvalidURL, add_reported_url, case_queue
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import NoticeError, Notifier, queue_removal_request
from disrupt.web import audit, cipher, db_session, now

bp = Blueprint("cases", __name__, url_prefix="/console")


def _case_for_current_user(case_id: int) -> Case:
    """Caseworkers see unassigned cases and their own; supervisors and admins all."""
    case = db_session().get(Case, case_id)
    if case is None:
        abort(404)
    if not current_user.can_see_all_cases() and case.assignee_id not in (None, current_user.id):
        abort(404)
    return case


def _notifier() -> Notifier:
    config = current_app.config
    return Notifier(name=config["ORGANISATION_NAME"], email=config["ORGANISATION_EMAIL"],
                    trusted_flagger=bool(config["TRUSTED_FLAGGER"]))


@bp.get("/")
@role_required()
def queue():  # type: ignore[no-untyped-def]
    session_ = db_session()
    if current_user.can_see_all_cases():
        cases = case_queue(session_, limit=200)
    else:
        cases = [c for c in case_queue(session_, limit=400)
                 if c.assignee_id in (None, current_user.id)][:200]
    return render_template("cases/queue.html", cases=cases)


def _render_case(case: Case, url_form: AddURLForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    session_ = db_session()
    checks: dict[int, list[URLCheck]] = defaultdict(list)
    url_ids = [u.id for u in case.urls]
    if url_ids:
        for check in session_.scalars(
            select(URLCheck).where(URLCheck.reported_url_id.in_(url_ids))
            .order_by(URLCheck.checked_at.desc())
        ):
            if len(checks[check.reported_url_id]) < 5:
                checks[check.reported_url_id].append(check)
    requests = list(session_.scalars(
        select(RemovalRequest).where(RemovalRequest.case_id == case.id)
        .order_by(RemovalRequest.created_at.desc())
    ))
    by_platform: dict[int, list[ReportedURL]] = defaultdict(list)
    for url in case.urls:
        if url.platform_id is not None:
            by_platform[url.platform_id].append(url)
    request_forms = []
    for urls in by_platform.values():
        form = RemovalRequestForm(prefix=f"p{urls[0].platform_id}")
        form.url_ids.choices = [(u.id, u.url) for u in urls]
        form.legal_basis.data = form.legal_basis.data or urls[0].platform.default_legal_basis
        default_language = case.language if case.language in ("en", "fr") else "en"
        form.language.data = form.language.data or default_language
        request_forms.append((urls[0].platform, form))
    return render_template(
        "cases/case.html", case=case, checks=checks, requests=requests,
        url_form=url_form or AddURLForm(), request_forms=request_forms,
        assign_form=AssignForm(), contact=cipher().decrypt(case.contact_encrypted),
    ), status


@bp.get("/cases/<int:case_id>")
@role_required()
def case_page(case_id: int):  # type: ignore[no-untyped-def]
    case = _case_for_current_user(case_id)
    audit("view_case", case)
    db_session().commit()
    return _render_case(case)


@bp.post("/cases/<int:case_id>/assign")
@role_required()
def assign_to_me(case_id: int):  # type: ignore[no-untyped-def]
    case = _case_for_current_user(case_id)
    if AssignForm().validate_on_submit():
        case.assignee_id = current_user.id
        if case.status == "new":
            case.status = "in_progress"
        case.updated_at = now()
        audit("assign_case", case, assignee_id=current_user.id)
        db_session().commit()
    return redirect(url_for("cases.case_page", case_id=case.id))


@bp.post("/cases/<int:case_id>/urls")
@role_required()
def add_url(case_id: int):  # type: ignore[no-untyped-def]
    case = _case_for_current_user(case_id)
    form = AddURLForm()
    if form.validate_on_submit():
        try:
            url = add_reported_url(db_session(), case, form.url.data, reported_by="caseworker",
                                   now=now())
        except (InvalidURL, DuplicateURL) as exc:
            db_session().rollback()
            form.url.errors.append(str(exc))
        else:
            db_session().flush()
            audit("add_url", url, case_id=case.id)
            db_session().commit()
            flash("Address added.")
            return redirect(url_for("cases.case_page", case_id=case.id))
    return _render_case(case, url_form=form, status=400)


@bp.post("/cases/<int:case_id>/platforms/<int:platform_id>/requests")
@role_required()
def send_removal_request(case_id: int, platform_id: int):  # type: ignore[no-untyped-def]
    case = _case_for_current_user(case_id)
    urls = [u for u in case.urls if u.platform_id == platform_id]
    if not urls:
        abort(404)
    form = RemovalRequestForm(prefix=f"p{platform_id}")
    form.url_ids.choices = [(u.id, u.url) for u in urls]
    if not form.validate_on_submit():
        flash("Choose at least one URL for the request.")
        return redirect(url_for("cases.case_page", case_id=case.id))
    chosen = [u for u in urls if u.id in set(form.url_ids.data)]
    session_ = db_session()
    try:
        request = queue_removal_request(
            session_, case=case, platform=urls[0].platform, urls=chosen,
            legal_basis=form.legal_basis.data, language=form.language.data,
            notifier=_notifier(), now=now(), created_by_id=current_user.id,
        )
    except NoticeError as exc:
        session_.rollback()
        flash(f"Not sent: {exc}")
    else:
        session_.flush()
        audit("queue_removal_request", request, case_id=case.id, urls=len(chosen))
        session_.commit()
        flash(f"Removal request queued for {request.platform.name}.")
    return redirect(url_for("cases.case_page", case_id=case.id))
