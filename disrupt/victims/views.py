"""The public portal: open a case, follow it. No case data in URLs or page titles."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, session, url_for

from disrupt.cases.models import Case
from disrupt.cases.services import DuplicateURL
from disrupt.victims.forms import FollowCaseForm, OpenCaseForm
from disrupt.victims.services import find_case_by_credentials, open_case
from disrupt.web import cipher, db_session, now

bp = Blueprint("victims", __name__)

PLAIN_STATES = {
    "pending": "Waiting for its first check",
    "online": "Still online",
    "removal_suspected": "Looks removed, being confirmed",
    "removed": "Removed",
    "indeterminate": "Could not be checked yet, we will try again",
    "restricted": "Blocked in some countries",
    "invalid": "This address cannot be checked",
}


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return render_template("victims/home.html")


@bp.route("/case/new", methods=["GET", "POST"])
def new_case():  # type: ignore[no-untyped-def]
    form = OpenCaseForm()
    if form.validate_on_submit():
        session_ = db_session()
        try:
            case, secret = open_case(
                session_,
                age_group=form.age_group.data,
                language=form.language.data,
                consent_notices=form.consent_notices.data,
                consent_hash_sharing=form.consent_hash_sharing.data,
                contact=form.contact.data or None,
                urls=form.normalized_urls,
                hashes=form.submitted_hashes,
                cipher=cipher(),
                now=now(),
            )
        except DuplicateURL as exc:
            session_.rollback()
            form.urls.errors.append(str(exc))
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
    if form.validate_on_submit():
        case = find_case_by_credentials(db_session(), form.reference.data, form.secret.data)
        if case is not None and case.status != "erased":
            session.clear()
            session.permanent = True
            session["victim_case_id"] = case.id
            return redirect(url_for("victims.case_status"))
        # The same words whether the reference exists or not.
        error = "We could not open a case with this reference and secret code."
    return render_template("victims/follow.html", form=form, error=error), (
        400 if error else 200)


@bp.get("/case")
def case_status():  # type: ignore[no-untyped-def]
    case_id = session.get("victim_case_id")
    case = db_session().get(Case, case_id) if case_id else None
    if case is None:
        return redirect(url_for("victims.follow_case"))
    return render_template("victims/status.html", case=case, plain_states=PLAIN_STATES)


@bp.post("/case/leave")
def leave_case():  # type: ignore[no-untyped-def]
    session.clear()
    return redirect(url_for("victims.home"))

