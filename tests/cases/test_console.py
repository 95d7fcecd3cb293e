"""Case work through the console routes: bulk paste, timeline, matches with other cases,
closing, and exactly one audit entry per action."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from disrupt.accounts.models import AuditEvent, User
from disrupt.cases.models import Case, Note, ReportedURL
from disrupt.cases.services import SubmittedHash
from disrupt.db import utcnow
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.services import add_platform
from disrupt.victims.services import open_case
from tests.support.staff import staff_client
from tests.support.web import post_form

PDQ_A = "f" * 16 + "0" * 16 + "a5" * 16
SHA_A = "1" * 64


def _case(app, *, urls=(), hashes=(), age_group="adult", assignee=None, created=None):
    db = app.extensions["disrupt.db"]
    with db.session() as s:
        case, _ = open_case(s, age_group=age_group, language="en", consent_notices=True,
                            consent_hash_sharing=False, contact="me@example.org",
                            urls=list(urls), hashes=list(hashes),
                            cipher=app.extensions["disrupt.cipher"], now=created or utcnow())
        s.flush()
        if assignee:
            case.assignee_id = s.scalar(select(User.id).where(User.email == assignee))
        s.commit()
        return case.id, case.reference


def _hash(sha=SHA_A, pdq=PDQ_A, quality=90):
    return SubmittedHash(kind="image", sha256=sha, pipeline="test-1", pdq=pdq, pdq_quality=quality)


def _audit_count(db, action=None):
    with db.session() as s:
        query = select(func.count()).select_from(AuditEvent)
        if action:
            query = query.where(AuditEvent.action == action)
        return s.scalar(query)


def test_bulk_paste_of_500_urls_in_one_transaction(app, db):
    with db.session() as s:
        add_platform(s, name="PicShare", domains=["picshare.test"], contact="abuse@x.test")
        s.commit()
    client = staff_client(app, "cw@example.org")
    case_id, _ = _case(app, urls=["https://picshare.test/p/0"])
    page = f"/console/cases/{case_id}"
    pasted = [f"HTTPS://WWW.PicShare.test:443/p/{i}?utm_source=x#frag" for i in range(500)]
    pasted[10] = "https://picshare.test/p/0"          # already in the case
    pasted.append(pasted[20])                          # twice in the paste
    pasted.append("nonsense")
    before = _audit_count(db)
    response = post_form(client, f"{page}/urls", {"urls": "\n".join(pasted)}, token_from=page)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "499 addresses added." in html
    assert "This address is already in the case: https://picshare.test/p/0" in html
    assert "already in your list" in html and "<code>nonsense</code>" in html
    kept = re.search(r"<textarea[^>]*>([^<]*)</textarea>", html).group(1).split()
    assert len(kept) == 3 and "nonsense" in kept  # the refused are kept, to fix
    with db.session() as s:
        rows = list(s.scalars(select(ReportedURL).where(ReportedURL.case_id == case_id)))
        assert len(rows) == 500
        assert all(r.platform is not None and r.platform.name == "PicShare" for r in rows)
        assert "https://www.picshare.test/p/7" in {r.url for r in rows}
    # One entry for the paste (the other is the GET of the form: a view_case).
    assert _audit_count(db) - before == 2 and _audit_count(db, "add_urls") == 1
    # Pasting the same block again adds nothing and says why, for each address.
    again = post_form(client, f"{page}/urls", {"urls": "\n".join(pasted[:5])}, token_from=page)
    assert again.status_code == 400
    assert again.get_data(as_text=True).count("already in the case") == 5


def test_one_action_one_audit_entry(app, db):
    with db.session() as s:
        add_platform(s, name="PicShare", domains=["picshare.test"], contact="abuse@x.test")
        s.commit()
    client = staff_client(app, "cw@example.org")
    case_id, _ = _case(app, urls=["https://picshare.test/a"])
    page = f"/console/cases/{case_id}"
    with db.session() as s:
        url = s.scalar(select(ReportedURL).where(ReportedURL.case_id == case_id))
        url_id, platform_id = url.id, url.platform_id
    actions = [
        ("view_case", lambda: client.get(page)),
        ("assign_case", lambda: post_form(client, f"{page}/assign", {"assignee": "me"},
                                          token_from=page)),
        ("add_url", lambda: post_form(client, f"{page}/urls", {"urls": "https://picshare.test/b"},
                                      token_from=page)),
        ("add_note", lambda: post_form(client, f"{page}/notes", {"body": "called the victim"},
                                       token_from=page)),
        ("post_message", lambda: post_form(client, f"{page}/messages",
                                           {"body": "We sent the request."}, token_from=page)),
        ("queue_removal_request", lambda: post_form(
            client, f"{page}/platforms/{platform_id}/requests",
            {f"p{platform_id}-url_ids": str(url_id), f"p{platform_id}-legal_basis": "dsa_art16",
             f"p{platform_id}-language": "en"}, token_from=page)),
        ("classify_case", lambda: post_form(client, f"{page}/classification",
                                            {"age_group": "minor"}, token_from=page)),
        ("close_case", lambda: post_form(client, f"{page}/status",
                                         {"action": "close", "outcome": "removed"},
                                         token_from=page)),
        ("reopen_case", lambda: post_form(client, f"{page}/status", {"action": "reopen"},
                                          token_from=page)),
        ("release_case", lambda: post_form(client, f"{page}/assign", {"assignee": ""},
                                           token_from=page)),
    ]
    for action, run in actions:
        before = _audit_count(db)
        # The form page itself is one "view_case" entry: count only the POST's own entry.
        response = run()
        assert response.status_code in (200, 302), (action, response.status_code)
        with db.session() as s:
            new = list(s.scalars(select(AuditEvent).where(AuditEvent.id > 0)
                                 .order_by(AuditEvent.id.desc()).limit(
                                     _audit_count(db) - before)))
        own = [e for e in new if e.action != "view_case" or action == "view_case"]
        assert [e.action for e in own] == [action], (action, [e.action for e in new])
        event = own[0]
        assert event.case_id == case_id and event.actor_id is not None
        assert event.remote_addr == "127.0.0.1"
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case.priority == 2 and case.status == "in_progress" and case.assignee_id is None
        note = s.scalar(select(Note))
        assert b"called the victim" not in note.body_encrypted


def test_close_needs_an_outcome(app, db):
    client = staff_client(app, "cw@example.org")
    case_id, _ = _case(app)
    page = f"/console/cases/{case_id}"
    response = post_form(client, f"{page}/status", {"action": "close", "outcome": ""},
                         token_from=page)
    assert response.status_code == 302
    assert "Choose an outcome" in client.get(page).get_data(as_text=True)
    with db.session() as s:
        assert s.get(Case, case_id).status == "new"


def test_timeline_in_time_order(app, db):
    client = staff_client(app, "cw@example.org")
    start = utcnow() - timedelta(days=2)
    case_id, _ = _case(app, urls=["https://picshare.test/a"], created=start)
    with db.session() as s:
        url = s.scalar(select(ReportedURL).where(ReportedURL.case_id == case_id))
        for hours, verdict in ((1, "online"), (2, "online"), (30, "removed")):
            s.add(URLCheck(reported_url_id=url.id, due_at=start + timedelta(hours=hours),
                           checked_at=start + timedelta(hours=hours), verdict=verdict,
                           reason=f"checked {verdict}", detector_version="t"))
        s.commit()
    page = f"/console/cases/{case_id}"
    post_form(client, f"{page}/notes", {"body": "first note"}, token_from=page)
    html = client.get(page).get_data(as_text=True)
    timeline = html[html.index('id="timeline"'):]
    texts = re.findall(r'<span class="kind">([^<]+)</span>', timeline)
    assert texts[:4] == ["Case opened by the victim", "Address reported", "Check: online",
                         "Check: removed"]  # the repeated "online" is not repeated
    assert texts[-1] == "Internal note" and "first note" in timeline
    stamps = re.findall(r'<time datetime="([^"]+)"', timeline)
    assert stamps == sorted(stamps)


def test_matches_with_other_cases_respect_visibility(app, db):
    client = staff_client(app, "cw@example.org")
    staff_client(app, "other@example.org")
    near = PDQ_A[:-2] + "5a"  # 8 bits away
    mine, _ = _case(app, hashes=[_hash()], assignee="cw@example.org")
    visible, visible_ref = _case(app, hashes=[_hash(sha="2" * 64, pdq=near)])
    hidden, hidden_ref = _case(app, hashes=[_hash()], assignee="other@example.org")
    weak, weak_ref = _case(app, hashes=[_hash(sha="3" * 64, pdq=near, quality=30)])
    html = client.get(f"/console/cases/{mine}").get_data(as_text=True)
    matches = html[html.index('id="matches"'):html.index("Web addresses")]
    assert f"case {visible_ref}" in matches and "PDQ distance 8" in matches
    assert hidden_ref not in matches and "Exact copy (same SHA-256)" in matches
    assert "another case" in matches
    assert weak_ref not in matches  # quality below 50 never matches
    supervisor = staff_client(app, "sup@example.org", "supervisor")
    html = supervisor.get(f"/console/cases/{mine}").get_data(as_text=True)
    assert f"case {hidden_ref}" in html
    # A case added later is found by the same (cached) index.
    later, later_ref = _case(app, hashes=[_hash(sha="4" * 64, pdq=near)])
    html = client.get(f"/console/cases/{mine}").get_data(as_text=True)
    assert f"case {later_ref}" in html


def test_audit_log_filters_and_csv_export(app, db):
    client = staff_client(app, "cw@example.org")
    case_id, _ = _case(app)
    page = f"/console/cases/{case_id}"
    post_form(client, f"{page}/notes", {"body": "spoke to the victim"}, token_from=page)
    supervisor = staff_client(app, "sup@example.org", "supervisor")
    with db.session() as s:
        cw = s.scalar(select(User.id).where(User.email == "cw@example.org"))
    html = supervisor.get(f"/console/audit?actor={cw}&action=add_note").get_data(as_text=True)
    assert "add_note" in html and "view_case" not in html.split("<table")[1]
    csv = supervisor.get(f"/console/audit.csv?case_id={case_id}")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("id,at,actor_id,actor_email")
    assert [line.split(",")[5] for line in lines[1:]] == [
        "victim.case_opened", "view_case", "add_note"]
    assert _audit_count(db, "export_audit") == 1
    assert client.get("/console/audit").status_code == 403
