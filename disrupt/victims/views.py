"""The public portal: open a case, follow it, withdraw or erase it.

No case data in URLs or page titles: the case page is /case, found through the session."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import select

from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.services import DuplicateURL, case_messages
from disrupt.listeners import after_erasure
from disrupt.victims.confirmation import confirm_contact, contact_state
from disrupt.victims.forms import (
    AddImagesForm,
    AddURLsForm,
    ConfirmForm,
    FollowCaseForm,
    LanguageForm,
    MessageForm,
    OpenCaseForm,
    StopUpdatesForm,
)
from disrupt.victims.i18n import PORTAL_LANGUAGES, current_language
from disrupt.victims.i18n import SESSION_KEY as LANGUAGE_KEY
from disrupt.victims.services import (
    CaseClosedToChanges,
    ThrottlePolicy,
    add_hashes,
    add_urls,
    clear_failures,
    erase_case,
    find_case_by_credentials,
    forget_contact,
    format_reference,
    is_locked,
    mark_messages_read,
    open_case,
    record_failure,
    request_dates,
    send_victim_message,
    throttle_key,
    withdraw_case,
)
from disrupt.victims.status import hash_rows, url_rows
from disrupt.web import cipher, db_session, first_check_delay, now

bp = Blueprint("victims", __name__)

CASE_KEY = "victim_case_id"
SEEN_KEY = "victim_seen"


def _policy() -> ThrottlePolicy:
    return ThrottlePolicy.from_config(current_app.config)


# Pages that answer GET: after a language switch the victim comes back to the same page.
_GET_PAGES = ("victims.home", "victims.new_case", "victims.follow_case", "victims.case_status",
              "victims.withdraw", "victims.erase")


@bp.app_context_processor
def _portal_context() -> dict[str, Any]:
    if request.method == "GET" or request.endpoint in _GET_PAGES:
        back = request.path
    elif session.get(CASE_KEY):
        back = url_for("victims.case_status")
    else:
        back = url_for("victims.home")
    return {"language_next": back, "leave_site_url": current_app.config["LEAVE_SITE_URL"]}


def _forget_case() -> None:
    session.pop(CASE_KEY, None)
    session.pop(SEEN_KEY, None)


def _current_case() -> Case | None:
    """The case this browser opened, unless it stayed idle too long."""
    case_id = session.get(CASE_KEY)
    if case_id is None:
        return None
    seen = session.get(SEEN_KEY, 0)
    idle = timedelta(minutes=current_app.config["VICTIM_IDLE_MINUTES"])
    if now() - datetime.fromtimestamp(seen, tz=now().tzinfo) > idle:
        _forget_case()
        flash(_("For your safety, your case page closed after %(minutes)d minutes without "
                "activity. Enter your reference and secret code to open it again.",
                minutes=current_app.config["VICTIM_IDLE_MINUTES"]))
        return None
    case = db_session().get(Case, case_id)
    if case is None or case.status == "erased":
        _forget_case()
        return None
    session[SEEN_KEY] = int(now().timestamp())
    return case


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return render_template("victims/home.html")


@bp.post("/language")
def choose_language():  # type: ignore[no-untyped-def]
    form = LanguageForm()
    if form.validate_on_submit():
        session[LANGUAGE_KEY] = form.language.data
    target = form.next.data or ""
    # Only a path on this site: never an open redirect.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = url_for("victims.home")
    return redirect(target)


@bp.route("/case/new", methods=["GET", "POST"])
def new_case():  # type: ignore[no-untyped-def]
    form = OpenCaseForm()
    if request.method == "GET":
        form.language.data = current_language()
    if form.validate_on_submit():
        session_ = db_session()
        try:
            case, secret = open_case(
                session_,
                age_group=form.age_group.data,
                reporter=form.reporter.data,
                language=form.language.data,
                consent_notices=form.consent_notices.data,
                consent_hash_sharing=form.consent_hash_sharing.data,
                contact=form.contact.data or None,
                urls=form.normalized_urls,
                hashes=form.submitted_hashes,
                cipher=cipher(),
                now=now(),
                first_check_delay=first_check_delay(),
            )
        except DuplicateURL:
            session_.rollback()
            form.urls.errors = [_("This address is already in your case.")]
        else:
            session_.commit()
            # Shown once, in this response only: never in a URL, never stored in clear.
            return render_template("victims/created.html", reference=case.reference,
                                   secret=secret, minor=case.is_minor)
    return render_template("victims/new_case.html", form=form), (400 if form.errors else 200)


@bp.route("/case/follow", methods=["GET", "POST"])
def follow_case():  # type: ignore[no-untyped-def]
    form = FollowCaseForm()
    error = None
    status = 200
    if form.validate_on_submit():
        session_ = db_session()
        secret_key = current_app.config["SECRET_KEY"]
        keys = {"reference": throttle_key(secret_key, format_reference(form.reference.data)),
                "client": throttle_key(secret_key, request.remote_addr or "unknown")}
        moment = now()
        locked = is_locked(session_, keys, moment)
        # The same work whether the reference exists or not, locked or not: one lookup, one
        # password-hash verification.
        case = find_case_by_credentials(session_, form.reference.data, form.secret.data)
        if case is not None and case.status == "erased":
            case = None
        if case is not None and not locked:
            clear_failures(session_, "reference", keys["reference"])
            session_.commit()
            _forget_case()
            session.permanent = True
            session[CASE_KEY] = case.id
            session[SEEN_KEY] = int(moment.timestamp())
            return redirect(url_for("victims.case_status"))
        if locked:
            error = _("Too many attempts. For your safety, opening a case from here is paused "
                      "for %(minutes)d minutes. Please try again later.",
                      minutes=current_app.config["VICTIM_LOCKOUT_MINUTES"])
            status = 429
        else:
            record_failure(session_, keys, _policy(), moment)
            # The same words whether the reference exists or not.
            error = _("We could not open a case with this reference and secret code. Please "
                      "check both and try again.")
            status = 400
        session_.commit()
    elif form.errors:
        status = 400
    return render_template("victims/follow.html", form=form, error=error), status


def _status_page(case: Case, **forms: Any):  # type: ignore[no-untyped-def]
    session_ = db_session()
    forms.setdefault("url_form", AddURLsForm(formdata=None))
    forms.setdefault("images_form", AddImagesForm(formdata=None))
    forms.setdefault("message_form", MessageForm(formdata=None))
    forms.setdefault("updates_form", StopUpdatesForm(formdata=None))
    messages = case_messages(session_, case, cipher())
    page = render_template(
        "victims/status.html", case=case, urls=url_rows(case, request_dates(session_, case)),
        hashes=hash_rows(session_, case), messages=messages,
        contact_state=contact_state(session_, case, now()), **forms)
    mark_messages_read(session_, case, now())
    session_.commit()
    has_errors = any(f.errors for f in forms.values())
    return page, (400 if has_errors else 200)


@bp.get("/case")
def case_status():  # type: ignore[no-untyped-def]
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    return _status_page(case)


@bp.post("/case/urls")
def add_case_urls():  # type: ignore[no-untyped-def]
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = AddURLsForm()
    if form.validate_on_submit():
        session_ = db_session()
        existing = set(session_.scalars(select(ReportedURL.url)
                                        .where(ReportedURL.case_id == case.id)))
        new = [url for url in form.normalized_urls if url not in existing]
        try:
            add_urls(session_, case, new, now(), first_check_delay())
        except CaseClosedToChanges:
            session_.rollback()
            form.urls.errors = [_("This case is withdrawn: nothing can be added to it.")]
        else:
            session_.commit()
            if new:
                flash(ngettext("Thank you. We added %(num)d web address and will check it soon.",
                               "Thank you. We added %(num)d web addresses and will check them "
                               "soon.", len(new)))
            else:
                flash(_("These addresses were already in your case."))
            return redirect(url_for("victims.case_status") + "#addresses")
    return _status_page(case, url_form=form)


@bp.post("/case/images")
def add_case_images():  # type: ignore[no-untyped-def]
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = AddImagesForm()
    if form.validate_on_submit():
        session_ = db_session()
        try:
            added = add_hashes(session_, case, form.submitted_hashes, now())
        except CaseClosedToChanges:
            session_.rollback()
            form.hashes.errors = [_("This case is withdrawn: nothing can be added to it.")]
        else:
            session_.commit()
            flash(ngettext("Thank you. We added %(num)d image fingerprint.",
                           "Thank you. We added %(num)d image fingerprints.", len(added)))
            return redirect(url_for("victims.case_status") + "#images")
    return _status_page(case, images_form=form)


@bp.post("/case/messages")
def send_message():  # type: ignore[no-untyped-def]
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = MessageForm()
    if form.validate_on_submit():
        session_ = db_session()
        send_victim_message(session_, case, form.body.data, cipher(), now())
        session_.commit()
        flash(_("Your message was sent. A caseworker will answer here."))
        return redirect(url_for("victims.case_status") + "#messages")
    return _status_page(case, message_form=form)


@bp.post("/case/contact/forget")
def stop_updates():  # type: ignore[no-untyped-def]
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = StopUpdatesForm()
    if form.validate_on_submit() and case.contact_encrypted is not None:
        session_ = db_session()
        forget_contact(session_, case, now())
        session_.commit()
        flash(_("We deleted your e-mail address. We will not write to you any more."))
    return redirect(url_for("victims.case_status") + "#messages")


@bp.route("/case/withdraw", methods=["GET", "POST"])
def withdraw():  # type: ignore[no-untyped-def]
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    if case.status == "withdrawn":
        return redirect(url_for("victims.case_status"))
    form = ConfirmForm()
    if form.validate_on_submit():
        session_ = db_session()
        withdraw_case(session_, case, now())
        session_.commit()
        flash(_("Your case is withdrawn. Your image fingerprints are no longer shared and we "
                "stopped checking the web addresses."))
        return redirect(url_for("victims.case_status"))
    return render_template("victims/withdraw.html", form=form), (400 if form.errors else 200)


@bp.route("/case/erase", methods=["GET", "POST"])
def erase():  # type: ignore[no-untyped-def]
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = ConfirmForm()
    if form.validate_on_submit():
        session_ = db_session()
        case_id = case.id
        erase_case(session_, case, now())
        session_.commit()
        after_erasure(current_app.extensions["disrupt.db"], session_, current_app.config,
                      case_id)
        _forget_case()
        return render_template("victims/erased.html")
    return render_template("victims/erase.html", form=form), (400 if form.errors else 200)


@bp.route("/case/contact/confirm/<token>", methods=["GET", "POST"])
def confirm_contact_address(token: str):  # type: ignore[no-untyped-def]
    """The link of the confirmation e-mail. GET only shows a button: mail scanners open
    links, and only the victim's own click may confirm."""
    form = FlaskForm()  # the CSRF token only
    if request.method == "POST" and form.validate_on_submit():
        session_ = db_session()
        confirmed = confirm_contact(session_, token, now())
        session_.commit()
        return render_template("victims/contact_confirm.html", form=None,
                               confirmed=confirmed is not None), (200 if confirmed else 404)
    return render_template("victims/contact_confirm.html", form=form, confirmed=False)


@bp.post("/case/leave")
def leave_case():  # type: ignore[no-untyped-def]
    """Close the case page in this browser (also sent by the "Leave this site" button)."""
    _forget_case()
    return redirect(url_for("victims.home"))


__all__ = ["PORTAL_LANGUAGES", "bp"]
