"""Console actions on a case's evidence: download an export, place or lift a legal hold.
Audited; the case page (disrupt/console) shows the captures and these forms."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from disrupt.accounts.access import role_required
from disrupt.cases.models import Case
from disrupt.evidence.services import EvidenceError, build_export, lift_hold, place_hold
from disrupt.request import audit, cipher, db_session, now

bp = Blueprint("evidence", __name__, url_prefix="/console")


def _case(case_id: int) -> Case:
    case = db_session().get(Case, case_id)
    visible = case is not None and (current_user.can_see_all_cases()
                                    or case.assignee_id in (None, current_user.id))
    if case is None or case.status == "erased" or not visible:
        abort(404)  # as on the case page: whether another caseworker's case exists is not told
    return case


def _back(case: Case):
    return redirect(url_for("cases.case_page", case_id=case.id, _anchor="evidence"))


def _actor() -> str:
    return f"user:{current_user.id} ({current_user.email})"


@bp.post("/cases/<int:case_id>/evidence/export")
@role_required()
def export(case_id: int):
    """One zip for the police or a regulator: WARC files, manifest, custody, summary."""
    case = _case(case_id)
    url_id = request.form.get("reported_url_id", type=int)
    try:
        made = build_export(db_session(), case, folder=Path(current_app.config["EVIDENCE_DIR"]),
                            cipher=cipher(), actor=_actor(), now=now(),
                            reported_url_id=url_id)
    except EvidenceError as exc:
        flash(str(exc))
        return _back(case)
    audit("export_evidence", case, captures=made.captures, reported_url_id=url_id)
    db_session().commit()
    response = current_app.response_class(made.data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{made.file_name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/cases/<int:case_id>/evidence/hold")
@role_required()
def hold(case_id: int):
    """Place a legal hold (a referral to the authorities is open) or lift it."""
    case = _case(case_id)
    try:
        if request.form.get("action") == "lift":
            held = lift_hold(db_session(), case, user_id=current_user.id, actor=_actor(),
                             now=now())
            audit("lift_evidence_hold", held, case_id=case.id)
        else:
            referral_id = request.form.get("referral_id", type=int)
            if referral_id is None:
                raise EvidenceError("Choose the referral the hold is for.")
            held = place_hold(db_session(), case, referral_id, user_id=current_user.id,
                              actor=_actor(), now=now())
            audit("place_evidence_hold", held, case_id=case.id, referral_id=referral_id)
    except EvidenceError as exc:
        flash(str(exc))
        return _back(case)
    db_session().commit()
    flash("Legal hold lifted." if held.lifted_at else
          "Legal hold placed: the captures stay even if the victim erases her case.")
    return _back(case)
