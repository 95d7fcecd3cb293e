"""The victim's messages in the console (issue 14): unread markers in the queue, a thread on
the case page, read by saying so (audited) or by answering."""
from __future__ import annotations

from sqlalchemy import select

from disrupt.cases.models import Case, Message
from disrupt.cases.services import post_message
from disrupt.db import utcnow
from tests.cases.test_console import _audit_count, _case
from tests.support.staff import staff_client
from tests.support.web import post_form


def _victim_writes(app, case_id: int, *texts: str) -> None:
    db = app.extensions["disrupt.db"]
    with db.session() as s:
        case = s.get(Case, case_id)
        for text in texts:
            post_message(s, case, direction="from_victim", body=text,
                         cipher=app.extensions["disrupt.cipher"], now=utcnow())
        s.commit()


def _queue_cell(html: str, reference: str) -> str:
    row = html.split(reference, 1)[1].split("</tr>", 1)[0]
    return row.split("<td>")[4]  # after the reference: priority, status, URLs, messages


def test_unread_messages_in_the_queue_thread_on_the_case_and_reading(app, db):
    client = staff_client(app, "cw@example.org")
    case_id, reference = _case(app)
    _victim_writes(app, case_id, "Hello, SENTINEL-ONE", "Another thing: SENTINEL-TWO")
    queue = client.get("/console/").get_data(as_text=True)
    assert "2 new" in _queue_cell(queue, reference)
    page = f"/console/cases/{case_id}"
    html = client.get(page).get_data(as_text=True)
    thread = html.split('id="message-thread"', 1)[1].split("</ol>", 1)[0]
    assert thread.index("SENTINEL-ONE") < thread.index("SENTINEL-TWO")
    assert thread.count('class="new"') == 2
    assert "Mark 2 new messages as read" in html
    assert _audit_count(db, "read_victim_messages") == 0

    answer = post_form(client, f"{page}/messages/read", {}, token_from=page)
    assert answer.status_code == 302
    assert _audit_count(db, "read_victim_messages") == 1
    assert "new" not in _queue_cell(client.get("/console/").get_data(as_text=True), reference)
    html = client.get(page).get_data(as_text=True)
    assert 'class="new"' not in html and 'id="mark-read"' not in html

    # a new message, then an answer: answering is reading
    _victim_writes(app, case_id, "Are you there? SENTINEL-THREE")
    assert "1 new" in _queue_cell(client.get("/console/").get_data(as_text=True), reference)
    post_form(client, f"{page}/messages", {"body": "Yes, we are on it."}, token_from=page)
    with db.session() as s:
        unread = s.scalars(select(Message).where(Message.case_id == case_id,
                                                 Message.direction == "from_victim",
                                                 Message.read_at.is_(None))).all()
    assert unread == []
    html = client.get(page).get_data(as_text=True)
    assert "Us, to the victim" in html and "not read yet" in html


def test_marking_read_needs_the_form_token(app, db):
    case_id, _ = _case(app, assignee=None)
    _victim_writes(app, case_id, "hi")
    other = staff_client(app, "other@example.org")
    assert other.post(f"/console/cases/{case_id}/messages/read").status_code == 400
