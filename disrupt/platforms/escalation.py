"""The escalation ladder's records (disrupt/platforms/ladder.py decides the order): a rung
taken for a URL is a step. A notice rung (host, CDN, registrar) is a removal request to a
recipient the registry learns from the trace, through the outbox and every rule of a notice;
a web-form rung gets a prepared text and its form's link, and the caseworker records when it
was submitted and what came of it. Nothing is done for a case the victim stopped. Takes a
session and `now`; never commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import jinja2
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.rules import ensure_work_allowed
from disrupt.paths import templates_dir
from disrupt.platforms.deadlines import is_overdue, is_step_overdue
from disrupt.platforms.hosting import legal_bases_for_country
from disrupt.platforms.ladder import (
    DELISTING_RUNGS,
    FORM_RUNGS,
    NOTICE_RUNGS,
    RUNG_NAMES,
    STATES,
    Contact,
    Ladder,
    RungView,
    Taken,
)
from disrupt.platforms.models import (
    STEP_OUTCOMES,
    EscalationStep,
    Platform,
    RemovalRequest,
    removal_request_urls,
)
from disrupt.platforms.notices import (
    EMAIL_ADDRESS,
    NOTICE_LANGUAGES,
    NoticeError,
    Notifier,
    new_request_reference,
)
from disrupt.platforms.services import queue_removal_request

MAX_NOTE = 2000
#: How a notice rung's recipient is named in the registry's notes.
RUNG_ROLES = {"host": "hosting provider", "cdn": "CDN", "registrar": "registrar"}
_ROLE_WORDS = {
    "en": {"host": "the hosting provider of the server the content is on",
           "cdn": "the CDN serving this site", "registrar": "the registrar of its domain"},
    "fr": {"host": "l'hébergeur du serveur où se trouve le contenu",
           "cdn": "le CDN qui sert ce site", "registrar": "le bureau d'enregistrement de son "
                                                          "nom de domaine"},
}


# --- reading the ladder's records --------------------------------------------------------------

def steps_by_url(session: Session, url_ids: list[int]) -> dict[int, list[EscalationStep]]:
    found: dict[int, list[EscalationStep]] = {}
    if not url_ids:
        return found
    for step in session.scalars(
            select(EscalationStep).where(EscalationStep.reported_url_id.in_(url_ids))
            .options(selectinload(EscalationStep.request).selectinload(RemovalRequest.urls))
            .order_by(EscalationStep.id)):
        found.setdefault(step.reported_url_id, []).append(step)
    return found


def platform_requests(session: Session, urls: list[ReportedURL]) -> dict[int, RemovalRequest]:
    """The latest first notice (not a follow-up, not a rung's) to each URL's own platform."""
    on_platform = {u.id: u.platform_id for u in urls if u.platform_id is not None}
    if not on_platform:
        return {}
    rung_requests = select(EscalationStep.request_id).where(
        EscalationStep.request_id.is_not(None))
    # Read from the URLs (their index) and left to Python to drop follow-ups: a condition
    # on follow_up_of_id lets SQLite without statistics walk that index over every request.
    rows = session.execute(
        select(removal_request_urls.c.url_id, RemovalRequest)
        .join(RemovalRequest, RemovalRequest.id == removal_request_urls.c.request_id)
        .where(removal_request_urls.c.url_id.in_(list(on_platform)),
               RemovalRequest.id.not_in(rung_requests))
        .options(selectinload(RemovalRequest.urls))
        .order_by(RemovalRequest.created_at, RemovalRequest.id)).all()
    return {url_id: request for url_id, request in rows
            if request.follow_up_of_id is None and request.platform_id == on_platform[url_id]}


def _request_state(request: RemovalRequest, case: Case, now: datetime) -> str:
    if request.status in ("draft", "queued"):
        return "queued"
    if request.status in ("sent", "acknowledged"):
        return "overdue" if is_overdue(request, case, now) else "waiting"
    return {"actioned": "done", "rejected": "rejected"}.get(request.status, "failed")


def _request_taken(rung: str, request: RemovalRequest, case: Case, now: datetime,
                   step_id: int | None = None) -> Taken:
    return Taken(rung, _request_state(request, case, now), request.sent_at,
                 request.deadline_at, request.platform.name, request_id=request.id,
                 step_id=step_id, legal_basis=request.legal_basis,
                 rejected_at=request.replied_at if request.status == "rejected" else None,
                 reason=request.reply_reason)


def _step_state(step: EscalationStep, case: Case, url: ReportedURL, now: datetime) -> str:
    if step.status == "submitted":
        return "overdue" if is_step_overdue(step, case, url, now) else "waiting"
    if step.status == "accepted":
        return "delisted" if step.rung in DELISTING_RUNGS else "done"
    return {"prepared": "prepared", "refused": "rejected"}.get(step.status, "failed")


def taken_rungs(case: Case, url: ReportedURL, platform_request: RemovalRequest | None,
                steps: list[EscalationStep], now: datetime) -> dict[str, Taken]:
    """What was taken of the URL's ladder, by rung, with each rung's state now."""
    taken: dict[str, Taken] = {}
    if platform_request is not None:
        taken["platform"] = _request_taken("platform", platform_request, case, now)
    for step in steps:
        if step.status == "notice" and step.request is not None:
            taken[step.rung] = _request_taken(step.rung, step.request, case, now, step.id)
            continue
        taken[step.rung] = Taken(step.rung, _step_state(step, case, url, now),
                                 step.submitted_at, step.deadline_at, step.recipient,
                                 step_id=step.id, reason=step.outcome_note)
    return taken


def delisted_urls() -> Select[tuple[int]]:
    """The ids of the URLs a search engine delisted (an accepted Google or Bing step), as a
    query to filter by: for statistics that count them apart. Delisting hides the page from
    results; it is never "removed"."""
    return select(EscalationStep.reported_url_id).where(
        EscalationStep.rung.in_(DELISTING_RUNGS), EscalationStep.status == "accepted")


# --- taking the next rung ----------------------------------------------------------------------

def _language(case: Case, preferred: str | None = None) -> str:
    if preferred in NOTICE_LANGUAGES:
        return preferred
    return case.language if case.language in NOTICE_LANGUAGES else "en"


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else "—"


@dataclass(frozen=True)
class Escalation:
    """Who asks: the caseworker, the organisation and the time scale (the demo's)."""

    notifier: Notifier
    created_by_id: int | None = None
    scale: float = 1.0
    #: the language of the notice or prepared text (en, fr); None: the body's, else the case's
    language: str | None = None


def take_rung(session: Session, *, case: Case, url: ReportedURL, ladder: Ladder, rung: str,
              who: Escalation, now: datetime) -> EscalationStep:
    """Take ``rung``, which must be the ladder's next and takeable now: a notice queued in
    the outbox, or a web form's prepared text. Refused for a case the victim stopped."""
    ensure_work_allowed(case, NoticeError)
    if url.case_id != case.id:
        raise NoticeError("this address is not in this case")
    view = ladder.next
    if view is None or view.rung != rung:
        raise NoticeError(f"the next rung of {url.url} is not the {RUNG_NAMES.get(rung, rung)}"
                          " any more: look at the ladder again")
    if not ladder.may_climb:
        raise NoticeError(ladder.waiting_reason or "the ladder cannot go up yet")
    if rung == "platform":
        raise NoticeError("the platform's notice is sent with the request form")
    if rung in NOTICE_RUNGS:
        return _notice_step(session, case=case, url=url, ladder=ladder, view=view, who=who,
                            now=now)
    return _form_step(session, case=case, url=url, ladder=ladder, view=view, who=who, now=now)


def recipient_platform(session: Session, *, contact: Contact, rung: str, host: str,
                       now: datetime) -> Platform:
    """The registry's platform for a rung's recipient, reused by name or learned, without
    taking the host from the platform it belongs to: it gets no domain. A platform with no
    channel yet gets the trace's abuse e-mail; an admin's contact is kept."""
    name = " ".join(contact.name.split())[:120]
    email = (contact.email or "").strip()
    if not name or not EMAIL_ADDRESS.match(email):
        raise NoticeError(f"the trace gives no usable abuse e-mail for {name or 'this host'}")
    learned = (f"{now:%Y-%m-%d}: learned from a host trace as the {RUNG_ROLES[rung]} of "
               f"{host} (abuse contact {email}).")
    platform = session.scalar(select(Platform).where(Platform.name == name))
    if platform is None:
        code = (contact.country or "").strip().upper()[:10] or None
        platform = Platform(name=name, channel="email", contact=email, jurisdiction=code,
                            deadline_hours=48, trusted_flagger=False, removal_rules={},
                            default_legal_basis=legal_bases_for_country(code).bases[0],
                            notes=f"Kind: {RUNG_ROLES[rung]}.\n{learned}")
        session.add(platform)
        session.flush()
    elif platform.channel == "none" or not platform.contact:
        platform.channel, platform.contact = "email", email
        platform.notes = "\n".join(filter(None, [platform.notes, learned]))
    return platform


def _escalation_paragraph(ladder: Ladder, rung: str, host: str, language: str) -> str:
    """Why this notice comes to the host, CDN or registrar: what was asked before."""
    earlier = [v.taken for v in ladder.rungs if v.taken is not None and v.rung in NOTICE_RUNGS]
    fr = language == "fr"
    lines = []
    for taken in earlier:
        answer = {
            "rejected": "elle a été rejetée" if fr else "it was rejected",
            "overdue": (f"sans réponse au délai du {_day(taken.deadline)}" if fr
                        else f"no action by its deadline of {_day(taken.deadline)}"),
        }.get(taken.state, "sans suite" if fr else "to no effect")
        lines.append(f"{taken.recipient}, le {_day(taken.at)}\u00a0: {answer}" if fr
                     else f"{taken.recipient} on {_day(taken.at)}: {answer}")
    role = _ROLE_WORDS[language][rung]
    if fr:
        before = "\u00a0; ".join(lines) or "aucune"
        return (f"Escalade\u00a0: ce contenu a déjà été notifié ({before}). Vous êtes {role} "
                f"({host})\u00a0: nous vous demandons de le retirer ou d'en rendre l'accès "
                "impossible.")
    before = "; ".join(lines) or "none"
    return (f"Escalation: this content was notified before ({before}). You are {role} "
            f"({host}): we ask you to remove it or disable access to it.")


def _notice_step(session: Session, *, case: Case, url: ReportedURL, ladder: Ladder,
                 view: RungView, who: Escalation, now: datetime) -> EscalationStep:
    assert view.contact is not None
    platform = recipient_platform(session, contact=view.contact, rung=view.rung, host=url.host,
                                  now=now)
    language = _language(case, who.language)
    # A notice says the images are intimate: the platform's notice, sent, confirmed it.
    confirmed = any(v.taken is not None and v.taken.at is not None for v in ladder.rungs
                    if v.rung in NOTICE_RUNGS)
    request = queue_removal_request(
        session, case=case, platform=platform, urls=[url],
        legal_basis=platform.default_legal_basis, language=language, notifier=who.notifier,
        now=now, created_by_id=who.created_by_id, scale=who.scale,
        explanation=_escalation_paragraph(ladder, view.rung, url.host, language),
        intimacy_confirmed=confirmed, escalation=True)
    session.flush()
    step = EscalationStep(
        case_id=case.id, reported_url_id=url.id, rung=view.rung, status="notice",
        request=request, request_id=request.id, recipient=platform.name[:200],
        form_url=None, language=language, reference=request.idempotency_key,
        created_by_id=who.created_by_id, created_at=now)
    session.add(step)
    return step


@lru_cache(maxsize=1)
def _text_env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "notices")),
                              autoescape=False, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


#: The rungs' states in a French text (STATES in English).
_STATES_FR = {
    "queued": "en attente d'envoi", "prepared": "préparée, pas encore envoyée",
    "waiting": "en attente de réponse", "overdue": "sans réponse au délai",
    "rejected": "rejetée", "done": "suivie d'effet",
    "delisted": "déréférencée des résultats de recherche (la page reste en ligne)",
    "failed": "n'a pas pu être envoyée",
}

TEXT_KINDS = {"google": "delisting", "bing": "delisting", "regulator": "regulator",
              "dsa_complaint": "dsa_complaint", "dsa_settlement": "dsa_settlement"}


def prepared_text(*, case: Case, url: ReportedURL, ladder: Ladder, view: RungView,
                  recipient: str, notifier: Notifier, reference: str, language: str,
                  now: datetime) -> str:
    """The text to paste into the rung's form: the URL, what was asked before and what came
    of it, who asks and on whose behalf. Never the victim's case reference or fingerprints."""
    history = [
        {"name": v.name, "recipient": v.taken.recipient, "at": _day(v.taken.at),
         "deadline": _day(v.taken.deadline),
         "state": (_STATES_FR if language == "fr" else STATES)[v.taken.state],
         "code": v.taken.state, "reason": v.taken.reason}
        for v in ladder.rungs if v.taken is not None]
    platform = ladder.rungs[0].taken
    template = _text_env().get_template(f"ladder_{TEXT_KINDS[view.rung]}.{language}.txt")
    return template.render(
        url=url.url, host=url.host, recipient=recipient, history=history,
        last_seen_online=(url.last_seen_online_at.strftime("%Y-%m-%d %H:%M UTC")
                          if url.last_seen_online_at else "—"),
        notifier=notifier, reference=reference, date=now.strftime("%Y-%m-%d %H:%M UTC"),
        minor=case.is_minor, platform=platform.recipient if platform else None,
        rejected=platform.state == "rejected" if platform else False,
        rejected_on=_day(platform.rejected_at) if platform else "—",
        rejection_reason=platform.reason if platform else None)


def _form_recipient(view: RungView, ladder: Ladder) -> tuple[str, str | None]:
    assert view.body is not None
    if view.rung == "dsa_complaint":
        platform = ladder.rungs[0].taken
        name = platform.recipient if platform else "the platform"
        return f"{name}: internal complaint (DSA art. 20)", None
    return view.body.name, view.body.link or None


def _form_step(session: Session, *, case: Case, url: ReportedURL, ladder: Ladder,
               view: RungView, who: Escalation, now: datetime) -> EscalationStep:
    if not case.consent_notices:
        raise NoticeError("the victim did not agree that we send requests on her behalf")
    assert view.rung in FORM_RUNGS and view.body is not None
    recipient, link = _form_recipient(view, ladder)
    language = _language(case, who.language or view.body.language)
    reference = new_request_reference()
    text = prepared_text(case=case, url=url, ladder=ladder, view=view, recipient=recipient,
                         notifier=who.notifier, reference=reference, language=language,
                         now=now)
    step = EscalationStep(
        case_id=case.id, reported_url_id=url.id, rung=view.rung, status="prepared",
        recipient=recipient[:200], form_url=link, language=language, reference=reference,
        prepared_text=text, created_by_id=who.created_by_id, created_at=now)
    session.add(step)
    return step


# --- recording a web form's submission and outcome --------------------------------------------

def _case_of(session: Session, step: EscalationStep) -> Case:
    case = session.get(Case, step.case_id)
    if case is None:
        raise NoticeError("this step's case no longer exists")
    ensure_work_allowed(case, NoticeError)
    return case


def record_step_submitted(session: Session, step: EscalationStep, *, answer_days: int,
                          now: datetime, scale: float = 1.0, their_reference: str | None = None,
                          author_id: int | None = None) -> EscalationStep:
    """The caseworker submitted the prepared text on the form now: its deadline runs."""
    _case_of(session, step)
    if step.status != "prepared":
        raise NoticeError("only a prepared step can be recorded as submitted")
    step.status = "submitted"
    step.submitted_at = now
    step.submitted_by_id = author_id
    step.deadline_at = now + timedelta(days=answer_days) * scale
    step.their_reference = (their_reference or "").strip()[:120] or None
    return step


def record_step_outcome(session: Session, step: EscalationStep, *, outcome: str,
                        now: datetime, note: str | None = None,
                        author_id: int | None = None) -> EscalationStep:
    """What the body answered: accepted (delisted, acted on) or refused, with its words. A
    delisting accepted never makes the URL removed."""
    _case_of(session, step)
    if outcome not in STEP_OUTCOMES:
        raise NoticeError(f"an outcome is one of {', '.join(STEP_OUTCOMES)}")
    if step.status != "submitted":
        raise NoticeError("only a submitted step can get an outcome")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE:
        raise NoticeError(f"the note is longer than {MAX_NOTE} characters")
    if outcome == "refused" and text is None:
        raise NoticeError("a refusal needs the reason given")
    step.status = outcome
    step.outcome_at = now
    step.outcome_note = text
    step.outcome_by_id = author_id
    return step
