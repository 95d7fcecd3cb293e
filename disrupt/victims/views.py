"""The public portal: open a case, follow it, withdraw or erase it.

No case data in URLs or page titles: the case page is /case, found through the session."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

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
from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.cases.services import DuplicateURL, case_messages
from disrupt.evidence.services import active_hold, consent_and_hold, set_picture_consent
from disrupt.i18n import PORTAL_LANGUAGES, current_language
from disrupt.i18n import SESSION_KEY as LANGUAGE_KEY
from disrupt.listeners import after_erasure
from disrupt.request import (
    cipher,
    commits_refusals,
    db_session,
    end_session,
    first_check_delay,
    now,
    resume_session,
    session_ended_by,
    start_session,
)
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
from disrupt.victims.services import (
    CaseClosedToChanges,
    CaseFull,
    ThrottlePolicy,
    TooManyCases,
    add_hashes,
    add_urls,
    clear_failures,
    count_case_opening,
    erase_case,
    find_case_by_credentials,
    forget_contact,
    format_reference,
    is_locked,
    mark_messages_read,
    open_case,
    record_failure,
    reference_delay,
    request_dates,
    send_victim_message,
    throttle_key,
    withdraw_case,
)
from disrupt.victims.status import hash_rows, url_rows

bp = Blueprint("victims", __name__)

# The cookie holds only the token of a server-side session (accounts/sessions.py).
VICTIM_SESSION_KEY = "victim_sid"


def _policy() -> ThrottlePolicy:
    return ThrottlePolicy.from_config(current_app.config)


# Pages that answer GET: after a language switch the victim comes back to the same page.
_GET_PAGES = ("victims.home", "victims.new_case", "victims.follow_case", "victims.case_status",
              "victims.withdraw", "victims.erase")


@bp.app_context_processor
def _portal_context() -> dict[str, Any]:
    if request.method == "GET" or request.endpoint in _GET_PAGES:
        back = request.path
    elif session.get(VICTIM_SESSION_KEY):
        back = url_for("victims.case_status")
    else:
        back = url_for("victims.home")
    return {"language_next": back, "leave_site_url": current_app.config["LEAVE_SITE_URL"]}


def _forget_case(reason: str) -> None:
    """End this browser's case page on the server, not only in the cookie (the view
    commits). The credentials of a case just opened go too."""
    session.pop(CREATED_KEY, None)
    end_session(VICTIM_SESSION_KEY, reason)


def _current_case() -> Case | None:
    """The case of this browser's live server-side session. Refused (idle, another address
    or user agent, left, withdrawn elsewhere, erased): the same neutral words for all but
    the idle timeout, which the victim may want explained."""
    had_session = VICTIM_SESSION_KEY in session
    minutes = current_app.config["VICTIM_IDLE_MINUTES"]
    record = resume_session("victim", VICTIM_SESSION_KEY, minutes)
    case = db_session().get(Case, record.case_id) if record is not None else None
    if case is not None and case.status != "erased":
        return case
    session.pop(VICTIM_SESSION_KEY, None)
    if session_ended_by("victim") == "idle":
        flash(_("For your safety, your case page closed after %(minutes)d minutes without "
                "activity. Enter your reference and secret code to open it again.",
                minutes=minutes))
    elif had_session:
        flash(_("Your case page is closed. Enter your reference and secret code to open it "
                "again."))
    return None


@bp.get("/")
def home():
    return render_template("victims/home.html")


@bp.post("/language")
def choose_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session[LANGUAGE_KEY] = form.language.data
    target = form.next.data or ""
    # Only a path on this site: never an open redirect. Browsers and urlsplit drop tabs and
    # newlines and read a backslash as a slash, so any of them (or a scheme, a host) refuses.
    if (not target.startswith("/") or target.startswith("//") or len(target) > 2000
            or any(c == "\\" or c.isspace() or not c.isprintable() for c in target)
            or urlsplit(target).scheme or urlsplit(target).netloc):
        target = url_for("victims.home")
    return redirect(target)


# The new case's reference and secret, encrypted with the data key, wait in the cookie
# between the POST that opens the case and the page that shows them once.
CREATED_KEY = "victim_new_case"
CREATED_SHOWN_WITHIN = timedelta(minutes=10)


def _client_key() -> str:
    return throttle_key(current_app.config["SECRET_KEY"], request.remote_addr or "unknown")


def _limit(form: Any, *, per_case_urls: int | None = None,
           per_case_hashes: int | None = None) -> Any:
    """Give a portal form the caps of the settings (a new case: also the per-case caps)."""
    config = current_app.config
    form.url_limit = min(config["VICTIM_URLS_PER_REQUEST"], per_case_urls or 10**9)
    form.hash_limit = min(config["VICTIM_HASHES_PER_REQUEST"], per_case_hashes or 10**9)
    return form


def _case_full_message(full: CaseFull) -> str:
    if full.kind == "urls":
        return _("Your case already has %(held)d web addresses, and a case can hold "
                 "%(limit)d. Please send fewer, or write to your caseworker in a message.",
                 held=full.held, limit=full.limit)
    return _("Your case already has %(held)d image fingerprints, and a case can hold "
             "%(limit)d. Please send fewer, or write to your caseworker in a message.",
             held=full.held, limit=full.limit)


@bp.route("/case/new", methods=["GET", "POST"])
def new_case():
    config = current_app.config
    form = _limit(OpenCaseForm(organisation=config["ORGANISATION_NAME"]),
                  per_case_urls=config["VICTIM_URLS_PER_CASE"],
                  per_case_hashes=config["VICTIM_HASHES_PER_CASE"])
    refusal = None
    if request.method == "GET":
        form.language.data = current_language()
    if form.validate_on_submit():
        session_ = db_session()
        try:
            count_case_opening(session_, _client_key(), _policy(), now())
            case, secret = open_case(
                session_,
                age_group=form.age_group.data,
                reporter=form.reporter.data,
                language=form.language.data,
                intimate=form.intimate.data,
                consent_notices=form.consent_notices.data,
                consent_hash_sharing=form.consent_hash_sharing.data,
                contact=form.contact.data or None,
                urls=form.normalized_urls,
                hashes=form.submitted_hashes,
                cipher=cipher(),
                now=now(),
                first_check_delay=first_check_delay(),
            )
        except TooManyCases as refused:  # a refused opening is not counted: nothing to keep
            refusal = _("%(count)d cases were already opened from this connection in the last "
                        "hour, the most we accept. Nothing was lost: your answers are below. "
                        "Please try again in an hour, or add to a case you opened with “Follow "
                        "my case”.", count=refused.limit)
            return render_template("victims/new_case.html", form=form, refusal=refusal), 429
        except DuplicateURL:
            form.urls.errors = [_("This address is already in your case.")]
        else:
            # Post/redirect/get: reloading the next page opens no second case.
            session[CREATED_KEY] = cipher().encrypt(json.dumps({
                "reference": case.reference, "secret": secret, "minor": case.is_minor,
                "at": now().timestamp()})).decode()
            return redirect(url_for("victims.case_created"), 303)
    return render_template("victims/new_case.html", form=form), (400 if form.errors else 200)


@bp.get("/case/created")
def case_created():
    """The reference and secret of the case just opened. A reload (or another language)
    shows them again in this browser for a few minutes, never opens a second case; they
    leave the cookie once she follows her case or leaves the site."""
    sealed = session.get(CREATED_KEY)
    opened = json.loads(cipher().decrypt(sealed.encode()) or "null") if sealed else None
    if opened is not None and now() - datetime.fromtimestamp(
            opened["at"], tz=now().tzinfo) > CREATED_SHOWN_WITHIN:
        session.pop(CREATED_KEY, None)
        opened = None
    if opened is None:
        return render_template("victims/created.html", reference=None, secret=None,
                               minor=False)
    return render_template("victims/created.html", reference=opened["reference"],
                           secret=opened["secret"], minor=opened["minor"])


def _slow_down(session_: Session, reference_key: str, moment: datetime) -> None:
    """Wait before answering about a reference under guessing; the transaction is closed
    first, so no lock is held while waiting."""
    delay = reference_delay(session_, reference_key, _policy(), moment)
    if delay > 0:
        session_.commit()  # no lock held while sleeping; the boundary commits the rest
        time.sleep(delay)


@bp.route("/case/follow", methods=["GET", "POST"])
@commits_refusals
def follow_case():
    form = FollowCaseForm()
    error = None
    status = 200
    if form.validate_on_submit():
        session_ = db_session()
        secret_key = current_app.config["SECRET_KEY"]
        keys = {"reference": throttle_key(secret_key, format_reference(form.reference.data)),
                "client": throttle_key(secret_key, request.remote_addr or "unknown")}
        moment = now()
        locked = is_locked(session_, {"client": keys["client"]}, moment)
        if not locked:
            _slow_down(session_, keys["reference"], moment)
        # The same work whether the reference exists or not, locked or not: one lookup, one
        # password-hash verification.
        case = find_case_by_credentials(session_, form.reference.data, form.secret.data)
        if case is not None and case.status == "erased":
            case = None
        if case is not None and not locked:
            clear_failures(session_, "reference", keys["reference"])
            _forget_case("replaced")
            start_session("victim", VICTIM_SESSION_KEY, case_id=case.id)
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
    elif form.errors:
        status = 400
    return render_template("victims/follow.html", form=form, error=error), status


def _status_page(case: Case, **forms: Any):
    session_ = db_session()
    forms.setdefault("url_form", AddURLsForm(formdata=None))
    forms.setdefault("images_form", AddImagesForm(formdata=None))
    forms.setdefault("message_form", MessageForm(formdata=None))
    forms.setdefault("updates_form", StopUpdatesForm(formdata=None))
    messages = case_messages(session_, case, cipher())
    consent, held = consent_and_hold(session_, case)
    page = render_template(
        "victims/status.html", case=case, urls=url_rows(case, request_dates(session_, case)),
        hashes=hash_rows(session_, case), messages=messages,
        contact_state=contact_state(session_, case, now()),
        evidence_consent=consent, evidence_held=held, **forms)
    if any(m.direction == "to_victim" and m.read_at is None for m, _text in messages):
        mark_messages_read(session_, case, now())  # no UPDATE on a page with nothing new
    has_errors = any(f.errors for f in forms.values())
    return page, (400 if has_errors else 200)


@bp.get("/case")
def case_status():
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    return _status_page(case)


@bp.post("/case/evidence")
def choose_evidence_pictures():
    """The victim agrees, or no longer agrees, that the pictures are kept for the police."""
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    set_picture_consent(db_session(), case, request.form.get("keep_pictures") == "yes",
                        now=now())
    return redirect(url_for("victims.case_status", _anchor="evidence"))


@bp.post("/case/urls")
def add_case_urls():
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = _limit(AddURLsForm())
    if form.validate_on_submit():
        session_ = db_session()
        # Those already in the case are left out (the thanks count only new ones); the
        # service refuses any repeat that would slip through.
        existing = {reported.url for reported in case.urls}
        new = [url for url in form.normalized_urls if url not in existing]
        try:
            add_urls(session_, case, new, now(), first_check_delay(),
                     max_per_case=current_app.config["VICTIM_URLS_PER_CASE"])
        except CaseClosedToChanges:
            form.urls.errors = [_("This case is withdrawn: nothing can be added to it.")]
        except CaseFull as full:
            form.urls.errors = [_case_full_message(full)]
        else:
            if new:
                flash(ngettext("Thank you. We added %(num)d web address and will check it soon.",
                               "Thank you. We added %(num)d web addresses and will check them "
                               "soon.", len(new)))
            else:
                flash(_("These addresses were already in your case."))
            return redirect(url_for("victims.case_status") + "#addresses")
    return _status_page(case, url_form=form)


@bp.post("/case/images")
def add_case_images():
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = _limit(AddImagesForm())
    if form.validate_on_submit():
        session_ = db_session()
        try:
            added = add_hashes(session_, case, form.submitted_hashes, now(),
                               max_per_case=current_app.config["VICTIM_HASHES_PER_CASE"])
        except CaseClosedToChanges:
            form.hashes.errors = [_("This case is withdrawn: nothing can be added to it.")]
        except CaseFull as full:
            form.hashes.errors = [_case_full_message(full)]
        else:
            flash(ngettext("Thank you. We added %(num)d image fingerprint.",
                           "Thank you. We added %(num)d image fingerprints.", len(added)))
            return redirect(url_for("victims.case_status") + "#images")
    return _status_page(case, images_form=form)


@bp.post("/case/messages")
def send_message():
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = MessageForm()
    if form.validate_on_submit():
        session_ = db_session()
        send_victim_message(session_, case, form.body.data, cipher(), now())
        flash(_("Your message was sent. A caseworker will answer here."))
        return redirect(url_for("victims.case_status") + "#messages")
    return _status_page(case, message_form=form)


@bp.post("/case/contact/forget")
def stop_updates():
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = StopUpdatesForm()
    if form.validate_on_submit() and case.contact_encrypted is not None:
        session_ = db_session()
        forget_contact(session_, case, now())
        flash(_("We deleted your e-mail address. We will not write to you any more."))
    return redirect(url_for("victims.case_status") + "#messages")


@bp.route("/case/withdraw", methods=["GET", "POST"])
def withdraw():
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    if case.status == "withdrawn":
        return redirect(url_for("victims.case_status"))
    form = ConfirmForm()
    if form.validate_on_submit():
        session_ = db_session()
        withdraw_case(session_, case, now())  # ends every session of the case
        start_session("victim", VICTIM_SESSION_KEY, case_id=case.id)
        flash(_("Your case is withdrawn. Your image fingerprints are no longer shared and we "
                "stopped checking the web addresses."))
        return redirect(url_for("victims.case_status"))
    return render_template("victims/withdraw.html", form=form), (400 if form.errors else 200)


@bp.route("/case/erase", methods=["GET", "POST"])
def erase():
    case = _current_case()
    if case is None:
        return redirect(url_for("victims.follow_case"))
    form = ConfirmForm()
    if form.validate_on_submit():
        session_ = db_session()
        case_id = case.id
        erase_case(session_, case, now())
        session_.commit()  # the files outside the database go only once the erasure is committed
        after_erasure(current_app.extensions["disrupt.db"], session_, current_app.config,
                      case_id)
        session.pop(VICTIM_SESSION_KEY, None)  # its row went with the case
        return render_template("victims/erased.html")
    return render_template("victims/erase.html", form=form,
                           evidence_held=active_hold(db_session(), case.id) is not None), \
        (400 if form.errors else 200)


@bp.route("/case/contact/confirm/<token>", methods=["GET", "POST"])
def confirm_contact_address(token: str):
    """The link of the confirmation e-mail. GET only shows a button: mail scanners open
    links, and only the victim's own click may confirm."""
    form = FlaskForm()  # the CSRF token only
    if request.method == "POST" and form.validate_on_submit():
        session_ = db_session()
        confirmed = confirm_contact(session_, token, now())
        return render_template("victims/contact_confirm.html", form=None,
                               confirmed=confirmed is not None), (200 if confirmed else 404)
    return render_template("victims/contact_confirm.html", form=form, confirmed=False)


@bp.post("/case/leave")
def leave_case():
    """End the case page's session (also sent by the "Leave this site" button): a copy of
    the cookie opens nothing afterwards."""
    _forget_case("left")
    return redirect(url_for("victims.home"))


__all__ = ["PORTAL_LANGUAGES", "bp"]
