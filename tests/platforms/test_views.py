"""The console pages of issue 6, through their routes: preview and edit a notice, queue it,
record replies, overdue list, deadlines page, platform admin, YAML import/export, referrals."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.accounts.services import create_user
from disrupt.cases.models import Referral
from disrupt.db import utcnow
from disrupt.platforms.jobs import send_queued_notices
from disrupt.platforms.models import Platform, RemovalRequest
from disrupt.platforms.services import add_platform
from tests.platforms.support import PDQ, make_case
from tests.support.apps import make_test_app
from tests.support.web import csrf_token, login, post_form

PASSWORD = "correct horse 42"


def _app(database_url, tmp_path, **config):
    app = make_test_app(database_url, tmp_path, ORGANISATION_NAME="Test hotline",
                        ORGANISATION_EMAIL="notices@hotline.example", **config)
    db = app.extensions["disrupt.db"]
    with db.session() as session:
        for role in ("caseworker", "admin"):
            create_user(session, email=f"{role}@hotline.example", name=role.title(),
                        password=PASSWORD, role=role, now=utcnow())
        picshare = add_platform(session, name="PicShare", domains=["picshare.example"],
                                channel="email", contact="abuse@picshare.example")
        add_platform(session, name="FormSite", domains=["formsite.example"], channel="webform",
                     contact="https://formsite.example/report", deadline_hours=24)
        case = make_case(session, ["https://picshare.example/a.jpg",
                                   "https://cdn.picshare.example/b.jpg",
                                   "https://formsite.example/c.jpg"], now=utcnow(),
                         language="fr")
        session.commit()
        ids = {"case": case.id, "picshare": picshare.id,
               "formsite": case.urls[2].platform_id, "urls": [u.id for u in case.urls]}
    return app, db, ids


def _client(app, role: str):
    client = app.test_client()
    login(client, f"{role}@hotline.example", PASSWORD)
    return client


def test_preview_edit_and_queue_a_notice(database_url, tmp_path):
    app, db, ids = _app(database_url, tmp_path)
    client = _client(app, "caseworker")
    case_page = client.get(f"/console/cases/{ids['case']}").get_data(as_text=True)
    path = f"/console/cases/{ids['case']}/platforms/{ids['picshare']}/notice"
    assert path in case_page
    p = f"p{ids['picshare']}"
    # The case page's form (GET) opens the preview with its choices.
    page = client.get(path, query_string={f"{p}-url_ids": [ids["urls"][0], ids["urls"][1]],
                                          f"{p}-legal_basis": "lcen_art6",
                                          f"{p}-language": "fr"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Notification de contenu manifestement illicite" in html
    assert "https://cdn.picshare.example/b.jpg" in html and PDQ not in html  # no consent
    assert 'value="queue"' in html
    # Edit: drop a URL, add a paragraph; preview, then queue.
    form = {f"{p}-url_ids": [ids["urls"][0]], f"{p}-legal_basis": "lcen_art6",
            f"{p}-language": "fr", f"{p}-explanation": "La personne a porté plainte.",
            "action": "preview"}
    preview = post_form(client, path, form, token_from=path).get_data(as_text=True)
    assert "La personne a porté plainte." in preview
    assert "https://cdn.picshare.example/b.jpg" not in preview.split('id="notice-body"')[1]
    response = post_form(client, path, {**form, "action": "queue"}, token_from=path)
    assert response.status_code == 302
    with db.session() as session:
        [request] = session.scalars(select(RemovalRequest)).all()
        assert response.location.endswith(f"/console/requests/{request.id}")
        assert [u.url for u in request.urls] == ["https://picshare.example/a.jpg"]
        assert request.legal_basis == "lcen_art6" and request.language == "fr"
        assert "La personne a porté plainte." in request.body
        assert request.explanation == "La personne a porté plainte."
        assert request.status == "queued"
        assert session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "queue_removal_request", AuditEvent.record_id == request.id))
    page = client.get(response.location).get_data(as_text=True)
    assert "queued" in page and "La personne a porté plainte." in page


def test_validator_refuses_a_notice_lacking_an_element(database_url, tmp_path):
    app, db, ids = _app(database_url, tmp_path)
    app.config["ORGANISATION_EMAIL"] = "nobody"  # a misconfigured instance
    client = _client(app, "caseworker")
    path = f"/console/cases/{ids['case']}/platforms/{ids['picshare']}/notice"
    page = client.get(path).get_data(as_text=True)
    assert "notifier&#39;s e-mail address" in page and 'value="queue"' not in page
    p = f"p{ids['picshare']}"
    response = post_form(client, path, {f"{p}-url_ids": [ids["urls"][0]],
                                        f"{p}-legal_basis": "dsa_art16", f"{p}-language": "en",
                                        "action": "queue"})
    assert response.status_code == 400
    assert "Not queued: the notice (EU Digital Services Act, art. 16) lacks: notifier" in \
        response.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(RemovalRequest.id)) is None


def test_web_form_request_is_recorded_then_replies(database_url, tmp_path):
    app, db, ids = _app(database_url, tmp_path)
    client = _client(app, "caseworker")
    path = f"/console/cases/{ids['case']}/platforms/{ids['formsite']}/notice"
    page = client.get(path).get_data(as_text=True)
    assert "https://formsite.example/report" in page and "record it" in page
    p = f"p{ids['formsite']}"
    response = post_form(client, path, {f"{p}-url_ids": [ids["urls"][2]],
                                        f"{p}-legal_basis": "take_it_down",
                                        f"{p}-language": "en", "action": "queue"})
    assert response.status_code == 302
    request_path = response.location
    with db.session() as session:
        [request] = session.scalars(select(RemovalRequest)).all()
        assert request.status == "sent" and request.channel == "webform"
        assert request.deadline_at == request.sent_at + timedelta(hours=24)
    # A rejection needs its reason; the error is shown next to the field.
    refused = post_form(client, f"{request_path}/reply", {"status": "rejected", "reason": ""},
                        token_from=request_path)
    assert refused.status_code == 400
    assert "a rejection needs the reason" in refused.get_data(as_text=True)
    ok = post_form(client, f"{request_path}/reply",
                   {"status": "rejected", "reason": "Not against our terms", "reference": "T-9"},
                   token_from=request_path)
    assert ok.status_code == 302
    with db.session() as session:
        request = session.scalars(select(RemovalRequest)).one()
        assert (request.status, request.reply_reason, request.platform_reference) == \
            ("rejected", "Not against our terms", "T-9")
        assert [(r.status, r.source) for r in request.replies] == [("rejected", "caseworker")]
    assert "Not against our terms" in client.get(request_path).get_data(as_text=True)


def test_overdue_list_and_follow_up(database_url, tmp_path):
    app, db, ids = _app(database_url, tmp_path)
    client = _client(app, "caseworker")
    path = f"/console/cases/{ids['case']}/platforms/{ids['picshare']}/notice"
    p = f"p{ids['picshare']}"
    post_form(client, path, {f"{p}-url_ids": [ids["urls"][0]], f"{p}-legal_basis": "dsa_art16",
                             f"{p}-language": "en", "action": "queue"})
    assert send_queued_notices(db, app.config, worker="w", now=utcnow) == 1
    with db.session() as session:  # as if it was sent 50 hours ago
        request = session.scalars(select(RemovalRequest)).one()
        request.sent_at -= timedelta(hours=50)
        request.deadline_at -= timedelta(hours=50)
        session.commit()
    html = client.get("/console/requests/").get_data(as_text=True)
    assert 'id="overdue"' in html and "PicShare" in html
    with db.session() as session:
        request_id = session.scalars(select(RemovalRequest.id)).one()
        assert session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "view_overdue_requests"))
    response = post_form(client, f"/console/requests/{request_id}/follow-up", {},
                         token_from="/console/requests/")
    assert response.status_code == 302
    with db.session() as session:
        follow = session.scalar(select(RemovalRequest).where(
            RemovalRequest.follow_up_of_id == request_id))
        assert follow is not None and follow.status == "queued"
    deadlines = client.get("/console/platforms/deadlines").get_data(as_text=True)
    assert "PicShare" in deadlines


def test_platform_admin_pages(database_url, tmp_path):
    app, db, ids = _app(database_url, tmp_path)
    caseworker = _client(app, "caseworker")
    assert caseworker.get("/console/platforms/").status_code == 200
    assert caseworker.get("/console/platforms/new").status_code == 403
    assert caseworker.get("/console/platforms/export.yaml").status_code == 403
    admin = _client(app, "admin")
    form = {"name": "ShareIt", "domains": "shareit.example\nco.uk", "channel": "api",
            "contact": "https://api.shareit.example/notices", "deadline_hours": "36",
            "default_legal_basis": "take_it_down", "soft_404_markers": "Gone\n",
            "placeholder_redirects": "", "placeholder_digests": "", "jurisdiction": "US",
            "notes": ""}
    refused = post_form(admin, "/console/platforms/new", form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert re.search(r'id="domains-error"[^>]*>[^<]*co\.uk is a public suffix', html)
    assert 'value="ShareIt"' in html  # what was typed is kept
    created = post_form(admin, "/console/platforms/new",
                        {**form, "domains": "shareit.example\nwww.shareit.example"})
    assert created.status_code == 302
    with db.session() as session:
        platform = session.scalar(select(Platform).where(Platform.name == "ShareIt"))
        assert [d.domain for d in platform.domains] == ["shareit.example", "www.shareit.example"]
        assert platform.deadline_hours == 36 and platform.removal_rules == {
            "soft_404_markers": ["Gone"]}
        platform_id = platform.id
    edit_path = f"/console/platforms/{platform_id}/edit"
    assert "api.shareit.example" in admin.get(edit_path).get_data(as_text=True)
    assert post_form(admin, edit_path, {**form, "domains": "shareit.example",
                                        "channel": "none", "contact": ""}).status_code == 302
    exported = admin.get("/console/platforms/export.yaml")
    assert exported.status_code == 200 and "name: ShareIt" in exported.get_data(as_text=True)
    upload = exported.get_data(as_text=True).replace("deadline_hours: 36", "deadline_hours: 12")
    token = csrf_token(admin, "/console/platforms/")
    imported = admin.post("/console/platforms/import", data={
        "csrf_token": token, "file": (io.BytesIO(upload.encode()), "platforms.yaml")},
        content_type="multipart/form-data")
    assert imported.status_code == 302
    assert "1 updated" in admin.get("/console/platforms/").get_data(as_text=True)
    catalogue = post_form(admin, "/console/platforms/import", {"source": "catalogue"},
                          token_from="/console/platforms/")
    assert catalogue.status_code == 302
    with db.session() as session:
        assert session.scalar(select(Platform.deadline_hours)
                              .where(Platform.name == "ShareIt")) == 12
        assert session.scalar(select(Platform.id).where(Platform.name == "YouTube"))
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"create_platform", "update_platform", "export_platforms",
            "import_platforms"} <= actions


@pytest.mark.parametrize(("recipient", "language", "category"), [
    ("pharos", "fr", "Catégorie\u00a0: Images intimes d'une personne majeure"),
    ("hotline", "en", "Category: Non-consensual intimate images of an adult"),
])
def test_referral_summary_and_record(database_url, tmp_path, recipient, language, category):
    app, db, ids = _app(database_url, tmp_path)
    client = _client(app, "caseworker")
    path = f"/console/cases/{ids['case']}/referral"
    page = client.get(path, query_string={"recipient": recipient}).get_data(as_text=True)
    assert category.replace("'", "&#39;") in page
    # Dates in the organisation's zone (Europe/Paris by default), named in the summary's language.
    zone = {"fr": "(heure d’Europe centrale)", "en": "(Central European Time)"}[language]
    for expected in ("https://cdn.picshare.example/b.jpg", f"PDQ {PDQ}", "SHA-256 " + "cd" * 32,
                     "PicShare", zone):
        assert expected in page
    summary = re.search(r'<textarea[^>]*name="summary"[^>]*>\s*(.*?)</textarea>', page, re.S)
    assert summary
    data = {"recipient": recipient, "language": language, "summary": summary.group(1),
            "their_reference": "REF-42", "hotline_name": ""}
    if recipient == "hotline":
        missing = post_form(client, path, data)
        assert missing.status_code == 400
        assert "name the partner hotline" in missing.get_data(as_text=True)
        data["hotline_name"] = "Internet Watch Foundation"
    response = post_form(client, path, data)
    assert response.status_code == 302
    with db.session() as session:
        [referral] = session.scalars(select(Referral)).all()
        assert referral.recipient == ("pharos" if recipient == "pharos"
                                      else "hotline:Internet Watch Foundation")
        assert referral.their_reference == "REF-42" and referral.sent_at is not None
        assert "https://picshare.example/a.jpg" in referral.summary
        assert session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "record_referral"))
    assert "REF-42" in client.get(path).get_data(as_text=True)
