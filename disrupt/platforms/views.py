"""Console pages for platforms and removal requests: notice preview and edit, a request's
page (replies, follow-up, retry), what needs attention (overdue, failed), platforms that miss
deadlines, the registry (admin), and referral summaries."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from disrupt.accounts.access import own_cases_only, role_required, sees_case
from disrupt.cases.models import Case, Referral, ReportedURL
from disrupt.cases.rules import CaseStopped, work_refusal
from disrupt.platforms.catalogue import export_platforms, import_catalogue, import_platforms
from disrupt.platforms.deadlines import (
    ROUTINE_MIN_REQUESTS,
    ROUTINE_MISS_SHARE,
    deadline_records,
    failed_requests,
    is_overdue,
    overdue_requests,
)
from disrupt.platforms.forms import (
    ActionForm,
    AttachForm,
    ImportForm,
    NoticeForm,
    PlatformForm,
    ReferralForm,
    ReplyForm,
)
from disrupt.platforms.models import AWAITING_ACTION, MailboxMessage, Platform, RemovalRequest
from disrupt.platforms.notices import NOTICE_LANGUAGES, NoticeError, Notifier
from disrupt.platforms.referrals import (
    case_referrals,
    close_referral,
    record_referral,
    referral_summary,
)
from disrupt.platforms.replies import (
    attach_mailbox_message,
    confirm_mailbox_reply,
    dismiss_mailbox_message,
    find_request_by_reference,
    pending_mailbox_replies,
    triage_messages,
)
from disrupt.platforms.services import (
    RULE_KEYS,
    PlatformError,
    add_platform,
    queue_follow_up,
    queue_removal_request,
    record_reply,
    render_notice_text,
    retry_failed_request,
    update_platform,
)
from disrupt.request import audit, db_session, now, time_scale

bp = Blueprint("platforms", __name__, url_prefix="/console")


def _notifier() -> Notifier:
    return Notifier.from_config(current_app.config)


def _visible_case(case_id: int) -> Case:
    case = db_session().get(Case, case_id)
    if case is None or case.status == "erased":
        abort(404)  # as the case page: an erased case is gone from the console
    if not sees_case(case.assignee_id):
        abort(404)
    return case


def _visible_request(request_id: int) -> RemovalRequest:
    removal_request = db_session().get(RemovalRequest, request_id)
    if removal_request is None:
        abort(404)
    _visible_case(removal_request.case_id)
    return removal_request


# --- a new removal request: preview, edit, queue ---------------------------------------------

def _queue_notice(case: Case, platform: Platform, urls: list[ReportedURL],
                  form: NoticeForm) -> RemovalRequest | None:
    """Queue the previewed notice (audited); None with the reason in the form's errors."""
    chosen = [u for u in urls if u.id in set(form.url_ids.data)]
    try:
        removal_request = queue_removal_request(
            db_session(), case=case, platform=platform, urls=chosen,
            legal_basis=form.legal_basis.data, language=form.language.data,
            notifier=_notifier(), now=now(), created_by_id=current_user.id,
            explanation=form.explanation.data, scale=time_scale(),
            intimacy_confirmed=form.intimacy_confirmed.data,
        )
    except NoticeError as exc:
        form.form_errors.append(f"Not queued: {exc}")
        return None
    db_session().flush()
    audit("queue_removal_request", removal_request, case_id=case.id, urls=len(chosen),
          legal_basis=removal_request.legal_basis, channel=removal_request.channel)
    flash(f"Removal request to {platform.name} recorded as sent."
          if removal_request.status == "sent"
          else f"Removal request queued for {platform.name}: the worker sends it.")
    return removal_request


@bp.route("/cases/<int:case_id>/platforms/<int:platform_id>/notice", methods=["GET", "POST"])
@role_required()
def new_request(case_id: int, platform_id: int):
    """The notice as the platform will get it; the caseworker picks URLs, basis, language,
    adds a paragraph, and queues it. Reached from the case page's form (GET)."""
    case = _visible_case(case_id)
    urls = [u for u in case.urls if u.platform_id == platform_id]
    if not urls:
        abort(404)
    platform = urls[0].platform
    prefix = f"p{platform_id}"
    defaults = {"url_ids": [u.id for u in urls], "legal_basis": platform.default_legal_basis,
                "language": case.language if case.language in NOTICE_LANGUAGES else "en"}
    if request.method == "POST":
        form = NoticeForm(prefix=prefix)
    else:
        submitted = any(key.startswith(f"{prefix}-") for key in request.args)
        form = NoticeForm(formdata=request.args if submitted else None, prefix=prefix,
                          data=defaults, meta={"csrf": False} if submitted else {})
    form.url_ids.choices = [(u.id, u.url) for u in urls]
    status = 200
    if request.method == "POST" and request.form.get("action") == "queue":
        if form.validate_on_submit():
            queued = _queue_notice(case, platform, urls, form)
            if queued is not None:
                return redirect(url_for("platforms.request_page", request_id=queued.id))
        status = 400
    chosen = [u for u in urls if u.id in set(form.url_ids.data or [])]
    notice, missing, problem = None, [], work_refusal(case)
    try:
        if chosen:
            notice = render_notice_text(
                case=case, platform=platform, urls=chosen, legal_basis=form.legal_basis.data,
                language=form.language.data, notifier=_notifier(), now=now(),
                explanation=form.explanation.data,
            )
            missing = notice.missing()
        else:
            problem = problem or "Choose at least one URL."
    except NoticeError as exc:
        problem = problem or str(exc)
    if platform.channel == "none" or (platform.channel in ("email", "api")
                                      and not platform.contact):
        problem = problem or (f"{platform.name} has no channel or contact for notices yet: an "
                              "admin fills it in on the platform's page.")
    return render_template("platforms/request_new.html", case=case, platform=platform,
                           form=form, notice=notice, missing=missing,
                           problem=problem), status


# --- one request -----------------------------------------------------------------------------

def _mailbox_form(message: MailboxMessage) -> ReplyForm:
    """The confirmation of an e-mail's proposed status, filled with the proposal. "More
    information needed" is recorded as acknowledged, with the platform's question."""
    form = ReplyForm(prefix=f"m{message.id}", formdata=None)
    form.status.data = message.proposed_status if message.proposed_status in (
        "acknowledged", "actioned", "rejected") else "acknowledged"
    form.reason.data = message.proposed_reason or ""
    form.reference.data = message.platform_reference or ""
    return form


@bp.get("/requests/<int:request_id>")
@role_required()
def request_page(request_id: int, reply_form: ReplyForm | None = None, status: int = 200,
                 mailbox_form: tuple[int, ReplyForm] | None = None):
    removal_request = _visible_request(request_id)
    case = db_session().get(Case, removal_request.case_id)
    follow_ups = list(db_session().scalars(
        select(RemovalRequest).where(RemovalRequest.follow_up_of_id == removal_request.id)
        .order_by(RemovalRequest.created_at)))
    emails = pending_mailbox_replies(db_session(), removal_request)
    confirm_forms = {m.id: _mailbox_form(m) for m in emails if m.state == "proposed"}
    if mailbox_form is not None:
        confirm_forms[mailbox_form[0]] = mailbox_form[1]
    return render_template(
        "platforms/request.html", r=removal_request, follow_ups=follow_ups,
        reply_form=reply_form or ReplyForm(), action_form=ActionForm(), now=now(),
        awaiting=AWAITING_ACTION, overdue=is_overdue(removal_request, case, now()),
        work_refused=work_refusal(case), emails=emails, confirm_forms=confirm_forms,
    ), status


@bp.post("/requests/<int:request_id>/reply")
@role_required()
def record_reply_view(request_id: int):
    removal_request = _visible_request(request_id)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            record_reply(db_session(), removal_request, status=form.status.data,
                         reason=form.reason.data, reference=form.reference.data, now=now(),
                         source="caseworker", author_id=current_user.id)
        except NoticeError as exc:
            (form.reason if "reason" in str(exc) else form.status).errors.append(str(exc))
        else:
            audit("record_platform_reply", removal_request, case_id=removal_request.case_id,
                  status=form.status.data)
            flash(f"Reply recorded: {form.status.data}.")
            return redirect(url_for("platforms.request_page", request_id=request_id))
    return request_page(request_id, reply_form=form, status=400)


@bp.post("/requests/<int:request_id>/follow-up")
@role_required()
def follow_up(request_id: int):
    original = _visible_request(request_id)
    if ActionForm().validate_on_submit():
        try:
            follow = queue_follow_up(db_session(), original, now=now(),
                                     created_by_id=current_user.id, scale=time_scale())
        except NoticeError as exc:  # refused before writing: the redirect commits nothing
            flash(f"No follow-up: {exc}")
        else:
            db_session().flush()
            audit("queue_follow_up", follow, case_id=original.case_id, follow_up_of=original.id)
            flash(f"Follow-up to {original.platform.name} queued.")
            return redirect(url_for("platforms.request_page", request_id=follow.id))
    return redirect(url_for("platforms.request_page", request_id=request_id))


@bp.post("/requests/<int:request_id>/retry")
@role_required()
def retry(request_id: int):
    removal_request = _visible_request(request_id)
    if ActionForm().validate_on_submit():
        try:
            retry_failed_request(db_session(), removal_request, now=now())
        except NoticeError as exc:  # refused before writing: the redirect commits nothing
            flash(f"Not retried: {exc}")
        else:
            audit("retry_removal_request", removal_request, case_id=removal_request.case_id)
            flash("Back in the outbox: the worker sends it again.")
    return redirect(url_for("platforms.request_page", request_id=request_id))


# --- e-mails read from the mailbox -------------------------------------------------------------

def _mailbox_message(message_id: int) -> MailboxMessage:
    message = db_session().get(MailboxMessage, message_id)
    if message is None:
        abort(404)
    if message.request_id is not None:
        _visible_request(message.request_id)
    return message


@bp.post("/mailbox/<int:message_id>/confirm")
@role_required()
def confirm_mailbox_view(message_id: int):
    """The caseworker confirms (or corrects) the status the worker proposed for an e-mail."""
    message = _mailbox_message(message_id)
    if message.request_id is None:
        abort(404)
    request_id = message.request_id
    form = ReplyForm(prefix=f"m{message.id}")
    if form.validate_on_submit():
        proposed = message.proposed_status
        try:
            confirm_mailbox_reply(db_session(), message, status=form.status.data,
                                  reason=form.reason.data, reference=form.reference.data,
                                  now=now(), author_id=current_user.id)
        except NoticeError as exc:
            (form.reason if "reason" in str(exc) else form.status).errors.append(str(exc))
        else:
            audit("confirm_platform_email", message.request, case_id=message.request.case_id,
                  status=form.status.data, proposed=proposed, mailbox_message=message.id)
            flash(f"Reply recorded from the platform's e-mail: {form.status.data}.")
            return redirect(url_for("platforms.request_page", request_id=request_id))
    return request_page(request_id, status=400, mailbox_form=(message.id, form))


@bp.post("/mailbox/<int:message_id>/dismiss")
@role_required()
def dismiss_mailbox_view(message_id: int):
    message = _mailbox_message(message_id)
    back = url_for("platforms.request_page", request_id=message.request_id) \
        if message.request_id else url_for("platforms.mailbox_triage")
    if ActionForm().validate_on_submit():
        try:
            dismiss_mailbox_message(db_session(), message, now=now(),
                                    author_id=current_user.id)
        except NoticeError as exc:  # refused before writing: the redirect commits nothing
            flash(f"Not dismissed: {exc}")
        else:
            audit("dismiss_platform_email", message.request, mailbox_message=message.id,
                  case_id=message.request.case_id if message.request else None)
            flash("E-mail dismissed: its text is no longer kept (the mailbox keeps it).")
    return redirect(back)


@bp.get("/mailbox/")
@role_required()
def mailbox_triage(attach_form: tuple[int, AttachForm] | None = None, status: int = 200):
    """E-mails from the mailbox that name no request of ours."""
    messages = triage_messages(db_session())
    forms = {m.id: AttachForm(prefix=f"a{m.id}", formdata=None) for m in messages}
    if attach_form is not None:
        forms[attach_form[0]] = attach_form[1]
    return render_template("platforms/triage.html", messages=messages, attach_forms=forms,
                           action_form=ActionForm()), status


@bp.post("/mailbox/<int:message_id>/attach")
@role_required()
def attach_mailbox_view(message_id: int):
    message = _mailbox_message(message_id)
    form = AttachForm(prefix=f"a{message.id}")
    if form.validate_on_submit():
        target = find_request_by_reference(db_session(), form.request.data)
        if target is not None:
            case = db_session().get(Case, target.case_id)
            visible = case is not None and case.status != "erased" and (
                sees_case(case.assignee_id))
            target = target if visible else None
        if target is None:
            form.request.errors.append(
                f"No request of ours has the reference {form.request.data.strip()!r}: copy "
                "the 32-character reference from the request's page, or its number.")
        else:
            try:
                attach_mailbox_message(db_session(), message, target, now=now(),
                                       author_id=current_user.id)
            except NoticeError as exc:
                form.request.errors.append(str(exc))
            else:
                audit("attach_platform_email", message.request, mailbox_message=message.id,
                      case_id=message.request.case_id if message.request else None)
                flash("E-mail attached to the request: confirm its status below.")
                return redirect(url_for("platforms.request_page",
                                        request_id=message.request_id))
    return mailbox_triage(attach_form=(message.id, form), status=400)


# --- what needs attention --------------------------------------------------------------------

@bp.get("/requests/")
@role_required()
def attention():
    """Overdue requests (the worker raises them on its own) and failed sends."""
    session_ = db_session()
    overdue = overdue_requests(session_, now=now(), assignee_id=own_cases_only())
    failed = failed_requests(session_, assignee_id=own_cases_only())
    audit("view_overdue_requests", None, overdue=len(overdue), failed=len(failed))
    return render_template("platforms/attention.html", overdue=overdue, failed=failed,
                           action_form=ActionForm(), now=now())


@bp.get("/platforms/deadlines")
@role_required()
def deadlines():
    records = deadline_records(db_session(), now=now())
    return render_template("platforms/deadlines.html", records=records,
                           share=ROUTINE_MISS_SHARE, minimum=ROUTINE_MIN_REQUESTS)


# --- the registry ----------------------------------------------------------------------------

@bp.get("/platforms/")
@role_required()
def platform_list():
    platforms = list(db_session().scalars(
        select(Platform).options(selectinload(Platform.domains)).order_by(Platform.name)))
    return render_template("platforms/list.html", platforms=platforms,
                           import_form=ImportForm(), action_form=ActionForm())


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _platform_fields(form: PlatformForm) -> dict:
    return dict(
        name=form.name.data, domains=_lines(form.domains.data), channel=form.channel.data,
        contact=form.contact.data, jurisdiction=form.jurisdiction.data,
        deadline_hours=form.deadline_hours.data, trusted_flagger=bool(form.trusted_flagger.data),
        default_legal_basis=form.default_legal_basis.data,
        removal_rules={key: _lines(getattr(form, key).data) for key in RULE_KEYS},
        notes=form.notes.data,
    )


def _fill(form: PlatformForm, platform: Platform) -> None:
    form.name.data = platform.name
    form.domains.data = "\n".join(d.domain for d in platform.domains)
    form.channel.data = platform.channel
    form.contact.data = platform.contact or ""
    form.jurisdiction.data = platform.jurisdiction or ""
    form.deadline_hours.data = platform.deadline_hours
    form.trusted_flagger.data = platform.trusted_flagger
    form.default_legal_basis.data = platform.default_legal_basis
    for key in RULE_KEYS:
        getattr(form, key).data = "\n".join((platform.removal_rules or {}).get(key, []))
    form.notes.data = platform.notes or ""


@bp.route("/platforms/new", methods=["GET", "POST"])
@bp.route("/platforms/<int:platform_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit_platform(platform_id: int | None = None):
    session_ = db_session()
    platform = None
    if platform_id is not None:
        platform = session_.get(Platform, platform_id)
        if platform is None:
            abort(404)
    form = PlatformForm()
    if request.method == "GET" and platform is not None:
        _fill(form, platform)
    if form.validate_on_submit():
        fields = _platform_fields(form)
        try:
            if platform is None:
                platform = add_platform(session_, **fields)
                action = "create_platform"
            else:
                update_platform(session_, platform, **fields)
                action = "update_platform"
        except PlatformError as exc:
            target = getattr(form, exc.field or "", None) or form.name
            target.errors = [*target.errors, str(exc)]
        else:
            audit(action, platform, name=platform.name)
            flash(f"{platform.name} saved.")
            return redirect(url_for("platforms.platform_list"))
    status = 400 if form.is_submitted() else 200
    return render_template("platforms/edit.html", form=form, platform=platform), status


@bp.get("/platforms/export.yaml")
@role_required("admin")
def export_yaml():
    text = export_platforms(db_session())
    audit("export_platforms", None)
    return Response(text, mimetype="application/yaml", headers={
        "Content-Disposition": "attachment; filename=disrupt-platforms.yaml"})


def _short(text: str, limit: int = 300) -> str:
    """Flash messages travel in the session cookie: a refusal quoting a file stays short."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


@bp.post("/platforms/import")
@role_required("admin")
def import_yaml():
    form = ImportForm()
    catalogue = request.form.get("source") == "catalogue"
    if catalogue and not ActionForm().validate_on_submit():
        abort(400)
    if not catalogue and not form.validate_on_submit():
        flash("Choose a YAML file to import.")
        return redirect(url_for("platforms.platform_list"))
    session_ = db_session()
    try:
        if catalogue:
            summary = import_catalogue(session_)
        else:
            text = form.file.data.read(2_000_000).decode("utf-8", errors="replace")
            summary = import_platforms(session_, text)
    except PlatformError as exc:
        session_.rollback()  # the entries before the bad one were written; the redirect commits
        flash(f"Nothing imported: {_short(str(exc))}")
    else:
        audit("import_platforms", None, source="catalogue" if catalogue else "file",
              **summary.as_dict())
        flash(f"Imported: {len(summary.created)} new, {len(summary.updated)} updated, "
              f"{len(summary.unchanged)} unchanged"
              + (f"; skipped {_short(', '.join(summary.skipped_domains))}"
                 if summary.skipped_domains else "") + ".")
    return redirect(url_for("platforms.platform_list"))


# --- referrals -------------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/referral", methods=["GET", "POST"])
@role_required()
def referral(case_id: int):
    """A ready-to-paste summary for PHAROS, a partner hotline or the police, and the record of
    when it was sent."""
    case = _visible_case(case_id)
    session_ = db_session()
    refused = work_refusal(case)
    if refused is not None:
        if request.method == "POST":
            flash(f"No referral: {refused}")
            return redirect(url_for("platforms.referral", case_id=case.id))
        return render_template("platforms/referral.html", case=case, form=None,
                               refused=refused, referrals=case_referrals(session_, case))
    form = ReferralForm()
    if request.method == "GET":
        form.recipient.data = request.args.get("recipient", "pharos")
        language = request.args.get("language")
        form.language.data = language if language in ("fr", "en") else (
            "fr" if form.recipient.data == "pharos" else "en")
        form.summary.data = referral_summary(session_, case, notifier=_notifier(),
                                             language=form.language.data, now=now())
    status = 200
    if form.validate_on_submit():
        try:
            sent = record_referral(session_, case, recipient=form.recipient.data,
                                   summary=form.summary.data, now=now(),
                                   their_reference=form.their_reference.data,
                                   hotline_name=form.hotline_name.data,
                                   author_id=current_user.id)
        except CaseStopped as exc:  # refused before writing: the redirect commits nothing
            flash(f"No referral: {exc}")
            return redirect(url_for("platforms.referral", case_id=case.id))
        except ValueError as exc:
            target = form.hotline_name if "hotline" in str(exc) else form.summary
            target.errors = [*target.errors, str(exc)]
        else:
            session_.flush()
            audit("record_referral", sent, case_id=case.id, recipient=sent.recipient)
            flash(f"Referral to {sent.recipient} recorded.")
            return redirect(url_for("platforms.referral", case_id=case.id))
        status = 400
    elif form.is_submitted():
        status = 400
    return render_template("platforms/referral.html", case=case, form=form,
                           referrals=case_referrals(session_, case)), status


@bp.post("/cases/<int:case_id>/referrals/<int:referral_id>/close")
@role_required()
def close_referral_view(case_id: int, referral_id: int):
    """The authorities answered or dropped the referral; a legal hold placed for it ends.
    Allowed after the victim stopped the case, so that the hold can still end."""
    case = _visible_case(case_id)
    session_ = db_session()
    referral = session_.get(Referral, referral_id)
    if referral is None or referral.case_id != case.id:
        abort(404)
    outcome = request.form.get("outcome", "")
    try:
        close_referral(session_, referral, outcome=outcome, closed_by_id=current_user.id,
                       now=now())
    except ValueError as exc:  # refused before writing; the 400 rolls back in any case
        refused = work_refusal(case)
        form = None
        if refused is None:
            form = ReferralForm(formdata=None, recipient="pharos", language="fr")
            form.summary.data = referral_summary(session_, case, notifier=_notifier(),
                                                 language="fr", now=now())
        return render_template("platforms/referral.html", case=case, form=form,
                               refused=refused, referrals=case_referrals(session_, case),
                               closing={"id": referral_id, "outcome": outcome,
                                        "error": f"Not closed: {exc}."}), 400
    audit("close_referral", referral, case_id=case.id, recipient=referral.recipient)
    flash(f"Referral to {referral.recipient} closed.")
    return redirect(url_for("platforms.referral", case_id=case.id, _anchor="referrals"))
