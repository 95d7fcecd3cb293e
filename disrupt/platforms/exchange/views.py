"""The StopNCII-compatible exchange API (/api/exchange/v1) and its admin pages."""
from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from disrupt.accounts.access import role_required
from disrupt.csv_export import SafeWriter
from disrupt.platforms.exchange.forms import APIClientForm, RevokeForm
from disrupt.platforms.exchange.models import APIClient
from disrupt.platforms.exchange.services import (
    ExchangeError,
    authenticate_client,
    create_api_client,
    export_rows,
    fetch_hash_records,
    revoke_api_client,
    submit_feedback,
    submit_hashes,
)
from disrupt.platforms.models import Platform
from disrupt.request import audit, csrf, db_session, now

api = Blueprint("exchange_api", __name__, url_prefix="/api/exchange/v1")
admin = Blueprint("exchange_admin", __name__, url_prefix="/console/admin/api-clients")
csrf.exempt(api)


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def client_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """StopNCII's headers: Ocp-Apim-Subscription-Key names the client, x-functions-key is
    its secret."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        client = authenticate_client(
            db_session(), request.headers.get("Ocp-Apim-Subscription-Key"),
            request.headers.get("x-functions-key"), now())
        if client is None:
            return _error(401, "unknown, wrong or revoked key")
        g.api_client = client
        return view(*args, **kwargs)
    return wrapped


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ExchangeError(f"{name} must be an integer") from exc


@api.get("/FetchHashes")
@client_required
def fetch_hashes():
    try:
        page = fetch_hash_records(
            db_session(), client=g.api_client,
            start_timestamp=_int_arg("startTimestamp", 0),
            page_size=_int_arg("pageSize", 800),
            page_token=request.args.get("nextPageToken") or None,
            secret_key=current_app.config["SECRET_KEY"], now=now(),
        )
    except ExchangeError as exc:
        return _error(400, str(exc))
    return jsonify(page)


def _json_body() -> Any:
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except ValueError as exc:
        raise ExchangeError("the body is not JSON") from exc


@api.post("/SubmitFeedback")
@client_required
def submit_feedback_view():
    session = db_session()
    try:
        result = submit_feedback(session, client=g.api_client, payload=_json_body(), now=now())
    except ExchangeError as exc:
        return _error(400, str(exc))
    return jsonify(result)


@api.post("/SubmitHashes")
@client_required
def submit_hashes_view():
    session = db_session()
    try:
        result = submit_hashes(session, client=g.api_client, payload=_json_body(), now=now())
    except ExchangeError as exc:
        return _error(400, str(exc))
    return jsonify(result)


def _export() -> list[Any]:
    rows = export_rows(db_session(), client=g.api_client,
                       secret_key=current_app.config["SECRET_KEY"], now=now())
    return rows


@api.get("/export.csv")
@client_required
def export_csv():
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(["signal_type", "hash_value", "status", "last_modified"])
    for row in _export():
        writer.writerow([row.signal_type, row.hash_value, row.status, row.last_modified])
    return Response(out.getvalue(), mimetype="text/csv")


@api.get("/export.jsonl")
@client_required
def export_jsonl():
    lines = [json.dumps({"signal_type": r.signal_type, "hash_value": r.hash_value,
                         "status": r.status, "last_modified": r.last_modified})
             for r in _export()]
    return Response("\n".join(lines) + ("\n" if lines else ""), mimetype="application/jsonl")


# -- admin pages ---------------------------------------------------------------------------

def _form() -> APIClientForm:
    form = APIClientForm()
    form.platform_id.choices = [(p.id, p.name) for p in db_session().scalars(
        select(Platform).order_by(Platform.name))]
    return form


@admin.route("/", methods=["GET", "POST"])
@role_required("admin")
def clients():
    session = db_session()
    form = _form()
    created = None
    if form.validate_on_submit():
        platform = session.get(Platform, form.platform_id.data)
        if platform is None:
            abort(400)
        client, secret = create_api_client(session, platform=platform, name=form.name.data or "",
                                           now=now(), created_by_id=None)
        audit("create_api_client", client, platform_id=platform.id)
        created = (client, secret)  # the function key is shown in this response only
    listing = session.scalars(select(APIClient).order_by(APIClient.created_at.desc())).all()
    return render_template("exchange/clients.html", form=form, clients=listing,
                           created=created, revoke_form=RevokeForm())


@admin.post("/<int:client_id>/revoke")
@role_required("admin")
def revoke(client_id: int):
    session = db_session()
    client = session.get(APIClient, client_id)
    if client is None:
        abort(404)
    if RevokeForm().validate_on_submit():
        revoke_api_client(client, now())
        audit("revoke_api_client", client)
    return redirect(url_for("exchange_admin.clients"))
