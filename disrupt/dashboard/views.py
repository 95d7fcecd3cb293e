from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from disrupt.accounts.views import role_required
from disrupt.dashboard.services import takedown_statistics
from disrupt.web import db_session

bp = Blueprint("dashboard", __name__, url_prefix="/console/dashboard")


@bp.get("/")
@role_required()
def index():  # type: ignore[no-untyped-def]
    return render_template("dashboard/index.html", stats=takedown_statistics(db_session()))


@bp.get("/stats.json")
@role_required()
def stats_json():  # type: ignore[no-untyped-def]
    return jsonify(takedown_statistics(db_session()))
