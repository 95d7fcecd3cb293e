"""/healthz for a monitoring system, /metrics for Prometheus (behind a token), and the banner
every caseworker sees when the service has stopped doing its work."""
from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from disrupt.operations.health import HealthLimits, assess
from disrupt.operations.metrics import exposition
from disrupt.request import db_session, now

bp = Blueprint("operations", __name__)


def _health():
    return assess(db_session(), now=now(), limits=HealthLimits.from_config(current_app.config))


@bp.get("/healthz")
def healthz():
    """200 when the database answers and the worker keeps up; 503 with the reasons if not."""
    try:
        health = _health()
    except SQLAlchemyError:
        return jsonify({"status": "problem", "database": "unreachable",
                        "problems": [{"code": "database", "message": "The database does not "
                                      "answer."}]}), 503
    return jsonify(health.to_json()), 200 if health.ok else 503


@bp.get("/metrics")
def metrics():
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return Response("a metrics token is required\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": "Bearer"})
    text = exposition(db_session(), _health())
    return Response(text, mimetype="text/plain; version=0.0.4")


def init_banner(app: Flask) -> None:
    @app.context_processor
    def _operations_banner() -> dict[str, Any]:
        if not request.path.startswith("/console") or not current_user.is_authenticated:
            return {}
        try:
            return {"operations_problems": _health().problems}
        except SQLAlchemyError:
            return {"operations_problems": [("database", "The database does not answer.")]}
