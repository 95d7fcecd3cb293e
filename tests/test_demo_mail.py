"""Demo only: the e-mails the demo's SMTP server kept are readable from the console."""
from __future__ import annotations

from tests.support.apps import make_test_app
from tests.support.staff import staff_client


def test_demo_mail_pages_for_staff_only_and_absent_on_a_real_instance(sqlite_url, tmp_path):
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "notice-abc123.eml").write_text("Subject: Removal request\n\nhello platform\n")
    app = make_test_app(sqlite_url, tmp_path, DEMO_MAIL_DIR=str(mail))
    anonymous = app.test_client()
    assert anonymous.get("/console/demo/mail/").status_code in (302, 401)
    assert anonymous.get("/console/demo/mail/notice-abc123.eml").status_code in (302, 401)
    client = staff_client(app, "cw@example.org")
    index = client.get("/console/demo/mail/")
    assert index.status_code == 200 and b"notice-abc123.eml" in index.data
    one = client.get("/console/demo/mail/notice-abc123.eml")
    assert one.status_code == 200 and one.mimetype == "text/plain"
    assert b"hello platform" in one.data
    for bad in ("..%2Fsecret_key", "notice-abc123.txt", "missing.eml"):
        assert client.get(f"/console/demo/mail/{bad}").status_code == 404, bad

    real = make_test_app(sqlite_url, tmp_path / "real")
    assert staff_client(real, "cw2@example.org").get("/console/demo/mail/").status_code == 404
