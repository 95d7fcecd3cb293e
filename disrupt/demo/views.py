"""Demo only: the e-mails the demo's SMTP server received, readable from the console.

Registered only when DEMO_MAIL_DIR is set (``disrupt demo`` sets it), so a real instance
has no such route."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template

from disrupt.accounts.access import role_required
from disrupt.demo.simulator import SAFE_KEY

bp = Blueprint("demo", __name__, url_prefix="/console/demo")


def _folder() -> Path:
    return Path(current_app.config["DEMO_MAIL_DIR"])


@bp.route("/mail/")
@role_required()
def mail_index():
    names = sorted((p.name for p in _folder().glob("*.eml")), reverse=True) \
        if _folder().is_dir() else []
    return render_template("demo/mail.html", names=names)


@bp.route("/mail/<name>")
@role_required()
def mail_file(name: str):
    if not name.endswith(".eml") or not SAFE_KEY.fullmatch(name):
        abort(404)
    path = _folder() / name
    if not path.is_file():
        abort(404)
    return Response(path.read_bytes(), mimetype="text/plain",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})
