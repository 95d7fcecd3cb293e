"""A console view that refuses with a redirect leaves no half-done writes: the request's
boundary commits a 302, so an import refused at its second platform rolls back the first."""
from __future__ import annotations

import io

from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.platforms.models import Platform
from tests.support.staff import staff_client
from tests.support.web import csrf_token

HALF_GOOD = """platforms:
  - name: Goodshare
    domains: [goodshare.example]
    channel: email
    contact: abuse@goodshare.example
  - name: Badshare
    domains: [badshare.example]
    channel: pigeon
"""


def test_an_import_refused_half_way_writes_nothing(app, db):
    admin = staff_client(app, "admin@example.org", "admin")
    token = csrf_token(admin, "/console/platforms/")
    response = admin.post("/console/platforms/import", data={
        "csrf_token": token, "file": (io.BytesIO(HALF_GOOD.encode()), "platforms.yaml")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    page = admin.get("/console/platforms/").get_data(as_text=True)
    assert "Nothing imported: Badshare: channel must be one of" in page
    with db.session() as session:
        assert list(session.scalars(select(Platform.name))) == []
        actions = set(session.scalars(select(AuditEvent.action)))
    assert "import_platforms" not in actions
