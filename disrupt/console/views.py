"""Caseworker console: the queue and the case page. Every action is audited once."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
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

from disrupt.accounts.access import role_required, sees_case
from disrupt.accounts.models import User
from disrupt.cases.forms import (
    AddURLForm,
    AssignForm,
    ClassifyForm,
    MessageForm,
    NoteForm,
    ReadMessagesForm,
    ShareHashForm,
    StatusForm,
    URLActionForm,
)
from disrupt.cases.matches import HashMatcher, match_page
from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.rules import work_refusal
from disrupt.cases.services import (
    CLOSE_OUTCOMES,
    CaseActionError,
    add_note,
    add_reported_urls,
    assign_case,
    case_messages,
    classify_case,
    close_case,
    confirm_picture,
    mark_victim_messages_read,
    post_message,
    reopen_case,
    resume_checking,
)
from disrupt.console.hosting import recipients_from_trace, unknown_hosts
from disrupt.console.queue import AGE_CHOICES, QueueFilter, Viewer, parse_filter, queue_page
from disrupt.console.timeline import case_timeline
from disrupt.evidence.services import evidence_panel, queue_capture
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.escalation import (
    Escalation,
    record_step_outcome,
    record_step_submitted,
    take_rung,
)
from disrupt.platforms.exchange.services import (
    approve_sharing,
    feedback_for_case,
    sharing_state,
)
from disrupt.platforms.forms import RemovalRequestForm
from disrupt.platforms.hosting import learn_host_provider
from disrupt.platforms.ladder import RUNG_NAMES
from disrupt.platforms.models import EscalationStep, Platform, RemovalRequest
from disrupt.platforms.services import (
    NoticeError,
    Notifier,
    PlatformError,
    open_requests_by_url,
    queue_removal_request,
)
from disrupt.request import audit, cipher, db_session, first_check_delay, now, time_scale
from disrupt.tracing.ladders import case_ladders, stuck_urls
from disrupt.tracing.services import traces_for_hosts

bp = Blueprint("cases", __name__, url_prefix="/console")


def _viewer() -> Viewer:
    return Viewer(user_id=current_user.id, sees_all=current_user.can_see_all_cases())


def _may_see(case: Case) -> bool:
    return sees_case(case.assignee_id)


def _case_for_current_user(case_id: int) -> Case:
    case = db_session().get(Case, case_id)
    if case is None or case.status == "erased" or not _may_see(case):
        abort(404)  # not 403: whether another caseworker's case exists is not told
    return case


def _notifier() -> Notifier:
    return Notifier.from_config(current_app.config)


def _optional_url(endpoint: str, **values: Any) -> str | None:
    """A link to a page another part of the console provides, when it is there."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _matcher() -> HashMatcher:
    return current_app.extensions.setdefault("disrupt.hash_matcher", HashMatcher())


def _back(case: Case):
    return redirect(url_for("cases.case_page", case_id=case.id))


@bp.get("/")
@role_required()
def queue():
    session_ = db_session()
    where = parse_filter(request.args)
    page = queue_page(session_, where, _viewer(), now(), page=request.args.get("page", 1, int))
    platforms = list(session_.execute(select(Platform.id, Platform.name).order_by(Platform.name)))
    assignees = {row.case.assignee_id for row in page.rows if row.case.assignee_id}
    names = dict(session_.execute(select(User.id, User.name).where(User.id.in_(assignees))).all()
                 ) if assignees else {}
    stuck = stuck_urls(session_, [row.case.id for row in page.rows], now())
    return render_template("cases/queue.html", page=page, where=where, platforms=platforms,
                           names=names, age_choices=AGE_CHOICES, default=QueueFilter(),
                           stuck=stuck)


def _url_checks(case: Case) -> dict[int, list[URLCheck]]:
    checks: dict[int, list[URLCheck]] = defaultdict(list)
    url_ids = [u.id for u in case.urls]
    if url_ids:
        for check in db_session().scalars(
            select(URLCheck).where(URLCheck.reported_url_id.in_(url_ids))
            .order_by(URLCheck.checked_at.desc(), URLCheck.id.desc())
        ):
            checks[check.reported_url_id].append(check)
    return checks


@dataclass
class PlatformRequests:
    """One platform's part of the case page: a form for the addresses not yet in an open
    request, and, for the others, the request they are in."""

    platform: Platform
    form: RemovalRequestForm
    covered: list[tuple[ReportedURL, RemovalRequest]]


def _request_forms(case: Case) -> list[PlatformRequests]:
    by_platform: dict[int, list[ReportedURL]] = defaultdict(list)
    for url in case.urls:
        if url.platform_id is not None:
            by_platform[url.platform_id].append(url)
    forms = []
    for platform_id, urls in by_platform.items():
        open_requests = open_requests_by_url(db_session(), [u.id for u in urls], platform_id)
        form = RemovalRequestForm(prefix=f"p{platform_id}")
        form.url_ids.choices = [(u.id, u.url) for u in urls if u.id not in open_requests]
        form.legal_basis.data = form.legal_basis.data or urls[0].platform.default_legal_basis
        default_language = case.language if case.language in ("en", "fr") else "en"
        form.language.data = form.language.data or default_language
        covered = [(u, open_requests[u.id]) for u in urls if u.id in open_requests]
        forms.append(PlatformRequests(urls[0].platform, form, covered))
    return forms


def _assign_form(case: Case) -> AssignForm:
    form = AssignForm()
    if current_user.can_see_all_cases():
        users = db_session().scalars(select(User).where(User.active.is_(True))
                                     .order_by(User.name))
        form.assignee.choices = [("", "nobody")] + [(str(u.id), u.name) for u in users]
        form.assignee.data = str(case.assignee_id or "")
    return form


def _render_case(case: Case, *, url_form: AddURLForm | None = None,
                 refused: list[tuple[str, str]] | None = None, note_form: NoteForm | None = None,
                 message_form: MessageForm | None = None, status: int = 200):
    session_ = db_session()
    requests = list(session_.scalars(
        select(RemovalRequest).where(RemovalRequest.case_id == case.id)
        .order_by(RemovalRequest.created_at.desc())))
    matches = match_page(_matcher().matches_for_case(session_, case, now()),
                         page=request.args.get("matches_page", 1, int),
                         page_size=current_app.config["CASE_MATCHES_PAGE_SIZE"],
                         planted_at=current_app.config["PLANTED_HASH_CASES"])
    other_cases = {c.id: c for c in session_.scalars(
        select(Case).where(Case.id.in_({m.other_case_id for m in matches.rows})))
    } if matches.rows else {}
    classify = ClassifyForm(age_group=case.age_group, high_priority=case.priority == 1)
    traces = traces_for_hosts(session_, {u.host for u in case.urls if u.host})
    return render_template(
        "cases/case.html", case=case, checks=_url_checks(case), requests=requests,
        work_refused=work_refusal(case),
        url_form=url_form or AddURLForm(), refused=refused or [],
        request_forms=_request_forms(case), assign_form=_assign_form(case),
        status_form=StatusForm(), classify_form=classify, outcomes=CLOSE_OUTCOMES,
        note_form=note_form or NoteForm(), message_form=message_form or MessageForm(),
        messages=case_messages(session_, case, cipher()), read_form=ReadMessagesForm(),
        url_action_form=URLActionForm(),
        traces=traces, unknown_hosts=unknown_hosts(case, traces),
        ladders=case_ladders(session_, case, now()), ladder_steps=_ladder_steps(case),
        timeline=case_timeline(session_, case, cipher()),
        matches=matches, other_cases=other_cases, may_see=_may_see,
        feedback=feedback_for_case(session_, case), sharing_state=sharing_state,
        share_form=ShareHashForm(), evidence=evidence_panel(session_, case),
        contact=cipher().decrypt(case.contact_encrypted),
        referral_url=_optional_url("platforms.referral", case_id=case.id),
        notice_endpoint="platforms.new_request"
        if "platforms.new_request" in current_app.view_functions else None,
    ), status


def _ladder_steps(case: Case) -> dict[int, EscalationStep]:
    """The case's escalation steps by id (their prepared texts and forms on the page)."""
    return {step.id: step for step in db_session().scalars(
        select(EscalationStep).where(EscalationStep.case_id == case.id))}


@bp.get("/cases/<int:case_id>")
@role_required()
def case_page(case_id: int):
    case = _case_for_current_user(case_id)
    audit("view_case", case)
    return _render_case(case)


@bp.post("/cases/<int:case_id>/assign")
@role_required()
def assign(case_id: int):
    """Caseworkers take a case or release their own; supervisors assign to anyone."""
    case = _case_for_current_user(case_id)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    choice = request.form.get("assignee", "me")
    if choice == "me":
        assignee: int | None = current_user.id
    elif choice == "":
        assignee = None
    elif current_user.can_see_all_cases() and choice.isdigit():
        user = db_session().get(User, int(choice))
        if user is None or not user.active:
            abort(400)
        assignee = user.id
    else:
        abort(403)
    try:
        assign_case(case, assignee, now())
    except CaseActionError as exc:
        flash(str(exc))
        return _back(case)
    audit("assign_case" if assignee else "release_case", case, assignee_id=assignee)
    flash("Case assigned." if assignee else "Case released to the queue.")
    if assignee is None and not current_user.can_see_all_cases():
        return redirect(url_for("cases.queue"))
    return _back(case)


@bp.post("/cases/<int:case_id>/urls")
@role_required()
def add_url(case_id: int):
    """One address or a pasted list: all added in one transaction, the refused listed."""
    case = _case_for_current_user(case_id)
    form = AddURLForm()
    if not form.validate_on_submit():
        return _render_case(case, url_form=form, status=400)
    session_ = db_session()
    try:
        added, refused = add_reported_urls(session_, case, form.urls.data,
                                           reported_by="caseworker", now=now(),
                                           first_check_delay=first_check_delay())
    except CaseActionError as exc:
        form.urls.errors.append(str(exc))
        return _render_case(case, url_form=form, status=400)
    if added:
        session_.flush()
        if len(added) == 1:
            audit("add_url", added[0], case_id=case.id)
        else:
            audit("add_urls", case, count=len(added))
    if not refused:
        flash(f"{len(added)} address{'es' if len(added) != 1 else ''} added.")
        return _back(case)
    kept = AddURLForm(formdata=None, urls="\n".join(token for token, _ in refused))
    kept.urls.errors = [f"{len(refused)} not added: see the list below."]
    if added:
        flash(f"{len(added)} address{'es' if len(added) != 1 else ''} added.")
    return _render_case(case, url_form=kept, refused=refused, status=200 if added else 400)


@bp.post("/cases/<int:case_id>/platforms/<int:platform_id>/requests")
@role_required()
def send_removal_request(case_id: int, platform_id: int):
    case = _case_for_current_user(case_id)
    urls = [u for u in case.urls if u.platform_id == platform_id]
    if not urls:
        abort(404)
    form = RemovalRequestForm(prefix=f"p{platform_id}")
    form.url_ids.choices = [(u.id, u.url) for u in urls]
    if not form.validate_on_submit():
        flash("Choose at least one URL for the request.")
        return _back(case)
    chosen = [u for u in urls if u.id in set(form.url_ids.data)]
    session_ = db_session()
    try:
        removal = queue_removal_request(
            session_, case=case, platform=urls[0].platform, urls=chosen,
            legal_basis=form.legal_basis.data, language=form.language.data,
            notifier=_notifier(), now=now(), created_by_id=current_user.id,
            scale=time_scale(),
            intimacy_confirmed=form.intimacy_confirmed.data,
        )
    except NoticeError as exc:
        session_.rollback()
        flash(f"Not sent: {exc}")
    else:
        session_.flush()
        audit("queue_removal_request", removal, case_id=case.id, urls=len(chosen))
        flash(f"Removal request queued for {removal.platform.name}.")
    return _back(case)


@bp.post("/cases/<int:case_id>/urls/<int:url_id>/recipient")
@role_required()
def learn_recipient(case_id: int, url_id: int):
    """The registry learns the hosting provider (or CDN) of an address on no platform, from
    its trace; the normal request form then sends to it."""
    case = _case_for_current_user(case_id)
    url = next((u for u in case.urls if u.id == url_id), None)
    if url is None:
        abort(404)
    refused = work_refusal(case)
    if refused:
        flash(f"Not done: {refused}")
        return _back(case)
    if url.platform is not None:
        flash(f"{url.url} is already on {url.platform.name}.")
        return _back(case)
    session_ = db_session()
    recipients, reason = recipients_from_trace(traces_for_hosts(session_, {url.host}).get(url.host)
                                               if url.host else None)
    chosen = next((r for r in recipients if r.kind == request.form.get("kind")), None)
    if chosen is None:
        flash(f"Nobody to send to for {url.host or url.url}: {reason or 'choose a recipient.'}")
        return _back(case)
    try:
        platform = learn_host_provider(session_, name=chosen.name, email=chosen.email,
                                       host=url.host, kind=chosen.kind, country=chosen.country,
                                       now=now())
    except PlatformError as exc:
        session_.rollback()
        flash(f"Not added to the registry: {exc}")
        return _back(case)
    session_.flush()
    audit("learn_host_provider", platform, case_id=case.id, host=url.host, kind=chosen.kind,
          contact=platform.contact)
    flash(f"{platform.name} is in the registry for {url.host}: its removal requests go to "
          f"{platform.contact}. Send the notice below.")
    return _back(case)


@bp.post("/cases/<int:case_id>/notes")
@role_required()
def note(case_id: int):
    case = _case_for_current_user(case_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            added = add_note(db_session(), case, form.body.data, author_id=current_user.id,
                             cipher=cipher(), now=now())
        except CaseActionError as exc:
            form.body.errors.append(str(exc))
        else:
            db_session().flush()
            audit("add_note", added, case_id=case.id)
            flash("Note added.")
            return _back(case)
    return _render_case(case, note_form=form, status=400)


@bp.post("/cases/<int:case_id>/messages")
@role_required()
def message(case_id: int):
    case = _case_for_current_user(case_id)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            sent = post_message(db_session(), case, direction="to_victim", body=form.body.data,
                                cipher=cipher(), now=now(), author_id=current_user.id)
        except ValueError as exc:
            form.body.errors.append(str(exc))
        else:
            mark_victim_messages_read(db_session(), case, now())  # answering is reading
            db_session().flush()
            audit("post_message", sent, case_id=case.id)
            flash("Message sent: the victim sees it on their status page.")
            return _back(case)
    return _render_case(case, message_form=form, status=400)


@bp.post("/cases/<int:case_id>/messages/read")
@role_required()
def messages_read(case_id: int):
    case = _case_for_current_user(case_id)
    if not ReadMessagesForm().validate_on_submit():
        abort(400)
    count = mark_victim_messages_read(db_session(), case, now())
    audit("read_victim_messages", case, case_id=case.id, messages=count)
    return redirect(url_for("cases.case_page", case_id=case.id, _anchor="messages"))


@bp.post("/cases/<int:case_id>/urls/<int:url_id>/<any(confirm, recheck):action>")
@role_required()
def url_action(case_id: int, url_id: int, action: str):
    """The picture was seen on the page (confirm), or check an invalid address again."""
    case = _case_for_current_user(case_id)
    url = next((u for u in case.urls if u.id == url_id), None)
    if url is None:
        abort(404)
    if not URLActionForm().validate_on_submit():
        abort(400)
    try:
        if action == "confirm":
            confirm_picture(case, url, now())
            # The worker fetches the page (disrupt/evidence/jobs.py): no network in a view.
            queue_capture(db_session(), case, reported_url_id=url.id, url=url.url,
                          trigger="verification", now=now(), captured_by_id=current_user.id,
                          verdict=url.state)
        else:
            resume_checking(case, url, now())
    except CaseActionError as exc:
        flash(str(exc))
        return _back(case)
    audit("confirm_picture" if action == "confirm" else "resume_checking", url,
          case_id=case.id)
    flash("Noted: the picture was seen on this page." if action == "confirm"
          else "This address will be checked again now.")
    return redirect(url_for("cases.case_page", case_id=case.id, _anchor="addresses"))


@bp.post("/cases/<int:case_id>/status")
@role_required()
def change_status(case_id: int):
    """Close with an outcome, or reopen."""
    case = _case_for_current_user(case_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if request.form.get("action") == "reopen":
            reopen_case(case, now())
            audit("reopen_case", case)
        else:
            close_case(case, form.outcome.data, now())
            audit("close_case", case, outcome=case.outcome)
    except CaseActionError as exc:
        flash(str(exc))
        return _back(case)
    flash("Case closed." if case.status == "closed" else "Case reopened.")
    return _back(case)


@bp.post("/cases/<int:case_id>/hashes/<int:hash_id>/share")
@role_required()
def approve_hash_sharing(case_id: int, hash_id: int):
    """Share a minor's or a weak hash with partner platforms: a caseworker's decision."""
    case = _case_for_current_user(case_id)
    media = next((m for m in case.hashes if m.id == hash_id), None)
    if media is None:
        abort(404)
    if not ShareHashForm().validate_on_submit():
        abort(400)
    if not case.consent_hash_sharing or media.status != "active":
        flash("This fingerprint cannot be shared: no consent, or withdrawn.")
        return _back(case)
    approve_sharing(media, user_id=current_user.id, now=now())
    audit("approve_hash_sharing", media, case_id=case.id)
    flash("The fingerprint is now shared with partner platforms.")
    return _back(case)


@bp.post("/cases/<int:case_id>/classification")
@role_required()
def classify(case_id: int):
    case = _case_for_current_user(case_id)
    form = ClassifyForm()
    if not form.validate_on_submit():
        abort(400)
    before = (case.age_group, case.priority)
    try:
        classify_case(case, age_group=form.age_group.data,
                      high_priority=bool(form.high_priority.data), now=now())
    except CaseActionError as exc:
        flash(str(exc))
        return _back(case)
    if (case.age_group, case.priority) != before:
        audit("classify_case", case, age_group=case.age_group, priority=case.priority)
        flash("Classification saved.")
    return _back(case)


# --- the escalation ladder ----------------------------------------------------------------------

def _to_ladder(case: Case, url_id: int):
    return redirect(url_for("cases.case_page", case_id=case.id, _anchor=f"ladder-{url_id}"))


@bp.post("/cases/<int:case_id>/urls/<int:url_id>/ladder")
@role_required()
def climb_ladder(case_id: int, url_id: int):
    """Take the next rung of an address's ladder: a notice to the host, CDN or registrar
    (queued in the outbox), or a web form's prepared text."""
    case = _case_for_current_user(case_id)
    url = next((u for u in case.urls if u.id == url_id), None)
    if url is None:
        abort(404)
    session_ = db_session()
    rung = request.form.get("rung", "")[:40]
    who = Escalation(_notifier(), current_user.id, time_scale(),
                     language=request.form.get("language") or None)
    try:
        step = take_rung(session_, case=case, url=url, ladder=case_ladders(
            session_, case, now())[url.id], rung=rung, who=who, now=now())
    except NoticeError as exc:
        session_.rollback()
        flash(f"Not done: {exc}")
        return _to_ladder(case, url_id)
    session_.flush()
    audit("climb_ladder", step, case_id=case.id, rung=rung, recipient=step.recipient)
    flash(f"{RUNG_NAMES[rung].capitalize()}: " + (
        "queued in the outbox." if step.request_id else
        "the text is ready below; submit it on the form, then record it as submitted."))
    return _to_ladder(case, url_id)


def _step_for(case: Case, step_id: int) -> EscalationStep:
    step = db_session().get(EscalationStep, step_id)
    if step is None or step.case_id != case.id:
        abort(404)
    return step


@bp.post("/cases/<int:case_id>/ladder/<int:step_id>/submitted")
@role_required()
def ladder_submitted(case_id: int, step_id: int):
    """The caseworker submitted a prepared text on its form: its deadline starts now."""
    case = _case_for_current_user(case_id)
    step = _step_for(case, step_id)
    session_ = db_session()
    view = next((v for v in case_ladders(session_, case, now())[step.reported_url_id].rungs
                 if v.rung == step.rung), None)
    try:
        record_step_submitted(session_, step, answer_days=view.body.answer_days
                              if view is not None and view.body is not None else 30,
                              now=now(), scale=time_scale(),
                              their_reference=request.form.get("their_reference", "")[:500],
                              author_id=current_user.id)
    except NoticeError as exc:
        flash(f"Not recorded: {exc}")
        return _to_ladder(case, step.reported_url_id)
    audit("ladder_submitted", step, case_id=case.id, rung=step.rung)
    flash("Recorded as submitted: its deadline runs.")
    return _to_ladder(case, step.reported_url_id)


@bp.post("/cases/<int:case_id>/ladder/<int:step_id>/outcome")
@role_required()
def ladder_outcome(case_id: int, step_id: int):
    """What the search engine, regulator or body answered."""
    case = _case_for_current_user(case_id)
    step = _step_for(case, step_id)
    try:
        record_step_outcome(db_session(), step, outcome=request.form.get("outcome", ""),
                            note=request.form.get("note", "")[:5000], now=now(),
                            author_id=current_user.id)
    except NoticeError as exc:
        flash(f"Not recorded: {exc}")
        return _to_ladder(case, step.reported_url_id)
    audit("ladder_outcome", step, case_id=case.id, rung=step.rung, outcome=step.status)
    flash("Outcome recorded.")
    return _to_ladder(case, step.reported_url_id)
