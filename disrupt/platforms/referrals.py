"""Referrals to PHAROS, partner hotlines (INHOPE network) and the police: a ready-to-paste
summary of a case, and the record of when it was sent. Never commits."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, Referral
from disrupt.cases.rules import ensure_work_allowed
from disrupt.dates import MomentForm, format_moment
from disrupt.events import referral_closed, require_listeners
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.notices import Notifier
from disrupt.translatable import N_

RECIPIENTS = {
    "pharos": N_("PHAROS (internet-signalement.gouv.fr)"),
    "hotline": N_("Partner hotline (INHOPE network)"),
    "police": N_("Police"),
}
MAX_SUMMARY = 20_000
MAX_OUTCOME = 2_000

_TEXT = {
    "en": {
        "title": "Report of intimate images shared without consent",
        "case": "Reporting organisation's case reference",
        "org": "Reporting organisation",
        "category": "Category",
        "adult": "Non-consensual intimate images of an adult (France: Code pénal art. 226-2-1)",
        "minor": "Child sexual abuse material: the person was under 18 when the images were "
                 "made (France: Code pénal art. 227-23)",
        "unknown": "Non-consensual intimate images; age of the person when the images were "
                   "made not known",
        "reported": "Reported to us",
        "prepared": "Summary prepared",
        "where": "Where the content was seen",
        "platform": "Platform",
        "host": "Host",
        "first_reported": "first reported",
        "first_online": "first seen online",
        "last_online": "last seen online",
        "state": "current state",
        "requests": "removal requests",
        "none": "none",
        "unknown_platform": "unknown",
        "hashes": "Image identifiers (computed on the victim's device; no image is attached)",
        "no_hashes": "No image identifier.",
        ": ": ": ",
    },
    "fr": {
        "title": "Signalement d'images intimes diffusées sans consentement",
        "case": "Référence du dossier de l'organisme signalant",
        "org": "Organisme signalant",
        "category": "Catégorie",
        "adult": "Images intimes d'une personne majeure diffusées sans son consentement "
                 "(Code pénal, art. 226-2-1)",
        "minor": "Contenu pédocriminel\u00a0: la personne avait moins de 18 ans lors de la "
                 "réalisation des images (Code pénal, art. 227-23)",
        "unknown": "Images intimes diffusées sans consentement\u00a0; âge de la personne lors "
                   "de la réalisation des images inconnu",
        "reported": "Signalé à notre organisme le",
        "prepared": "Résumé établi le",
        "where": "Où le contenu a été vu",
        "platform": "Plateforme",
        "host": "Hôte",
        "first_reported": "signalée le",
        "first_online": "vue en ligne pour la première fois le",
        "last_online": "vue en ligne pour la dernière fois le",
        "state": "état actuel",
        "requests": "demandes de retrait",
        "none": "aucune",
        "unknown_platform": "inconnue",
        "hashes": "Identifiants des images (calculés sur l'appareil de la victime\u00a0; aucune "
                  "image n'est jointe)",
        "no_hashes": "Aucun identifiant d'image.",
        # French typography: a non-breaking space before the colon.
        ": ": "\u00a0: ",
    },
}

# The words of the states and statuses the summary names, so that no code is left in English
# in a French text.
_STATE_WORDS = {
    "en": {"pending": "not checked yet", "online": "online", "removal_suspected":
           "looks removed, being checked again", "removed": "removed",
           "indeterminate": "could not be checked", "restricted": "access restricted",
           "invalid": "not a valid address"},
    "fr": {"pending": "pas encore vérifiée", "online": "en ligne", "removal_suspected":
           "semble retirée, en cours de nouvelle vérification", "removed": "retirée",
           "indeterminate": "n'a pas pu être vérifiée", "restricted": "accès restreint",
           "invalid": "adresse non valide"},
}
_STATUS_WORDS = {
    "en": {"draft": "draft", "queued": "waiting to be sent", "sent": "sent",
           "acknowledged": "acknowledged", "actioned": "acted upon", "rejected": "rejected",
           "failed": "could not be sent"},
    "fr": {"draft": "brouillon", "queued": "en attente d'envoi", "sent": "envoyée",
           "acknowledged": "accusé de réception", "actioned": "traitée", "rejected": "refusée",
           "failed": "échec de l'envoi"},
}
_KIND_WORDS = {"en": {"image": "image", "video": "video"},
               "fr": {"image": "image", "video": "vidéo"}}


def referral_summary(
    session: Session, case: Case, *, notifier: Notifier, language: str, now: datetime,
) -> str:
    """Category, dates and times (in the organisation's zone, in ``language``), where the
    content was seen, URLs and hashes: plain text to paste into the recipient's form. Refused
    (CaseStopped) once the victim stopped the case."""
    ensure_work_allowed(case)
    lang = language if language in _TEXT else "en"
    zone = ZoneInfo(notifier.time_zone)

    def when(value: datetime | None, form: MomentForm = "short") -> str:
        """The summary's own dates give the zone's name, the URLs' its abbreviation."""
        if value is None:
            return "—"
        return format_moment(value, zone=zone, language=lang, form=form)

    t, colon = _TEXT[lang], _TEXT[lang][": "]
    states, statuses = _STATE_WORDS[lang], _STATUS_WORDS[lang]
    semi = "\u00a0; " if lang == "fr" else "; "
    category = {"minor": t["minor"], "adult": t["adult"]}.get(case.age_group, t["unknown"])
    requests = list(session.scalars(
        select(RemovalRequest).where(RemovalRequest.case_id == case.id)
        .order_by(RemovalRequest.created_at)))
    lines = [
        t["title"],
        "",
        f"{t['category']}{colon}{category}",
        f"{t['case']}{colon}{case.reference}",
        f"{t['org']}{colon}{notifier.name} <{notifier.email}>",
        f"{t['reported']}{colon}{when(case.created_at, 'long')}",
        f"{t['prepared']}{colon}{when(now, 'long')}",
        "",
        f"{t['where']}{colon.rstrip()}",
    ]
    for number, url in enumerate(case.urls, start=1):
        platform = url.platform.name if url.platform is not None else t["unknown_platform"]
        sent = [f"{when(r.sent_at)} ({statuses.get(r.status, r.status)})" for r in requests
                if r.sent_at is not None and any(u.id == url.id for u in r.urls)]
        lines += [
            f"{number}. {url.url}",
            f"   {t['platform']}{colon}{platform}{semi}{t['host']}{colon}{url.host}",
            f"   {t['first_reported']}{colon}{when(url.created_at)}{semi}"
            f"{t['first_online']}{colon}{when(url.first_seen_online_at)}{semi}"
            f"{t['last_online']}{colon}{when(url.last_seen_online_at)}",
            f"   {t['state']}{colon}{states.get(url.state, url.state)}{semi}"
            f"{t['requests']}{colon}{', '.join(sent) or t['none']}",
        ]
    lines += ["", f"{t['hashes']}{colon.rstrip()}", *_hash_lines(case, lang)]
    return "\n".join(lines) + "\n"


def _hash_lines(case: Case, lang: str) -> list[str]:
    """One line per active fingerprint, every hash it has; or the words for none."""
    t, colon = _TEXT[lang], _TEXT[lang][": "]
    semi = "\u00a0; " if lang == "fr" else "; "
    lines = []
    for h in (h for h in case.hashes if h.status == "active"):
        parts = [f"SHA-256 {h.sha256}"]
        if h.pdq:
            parts.append(f"PDQ {h.pdq}")
        if h.md5:
            parts.append(f"MD5 {h.md5}")
        if h.phash:
            parts.append(f"pHash {h.phash}")
        lines.append(f"- {_KIND_WORDS[lang].get(h.kind, h.kind)}{colon}" + semi.join(parts))
    return lines or [t["no_hashes"]]


def record_referral(
    session: Session, case: Case, *, recipient: str, summary: str, now: datetime,
    their_reference: str | None = None, hotline_name: str | None = None,
    author_id: int | None = None,
) -> Referral:
    """The case was sent to ``recipient`` now, with this summary. Refused (CaseStopped) once
    the victim stopped the case."""
    ensure_work_allowed(case)
    if recipient not in RECIPIENTS:
        raise ValueError(f"recipient must be one of {', '.join(RECIPIENTS)}")
    summary = summary.strip()
    if not summary:
        raise ValueError("the summary is empty")
    if len(summary) > MAX_SUMMARY:
        raise ValueError(f"the summary is longer than {MAX_SUMMARY} characters")
    label = recipient
    if recipient == "hotline":
        name = (hotline_name or "").strip()
        if not name:
            raise ValueError("name the partner hotline")
        label = f"hotline:{name}"[:40]
    referral = Referral(case_id=case.id, recipient=label,
                        their_reference=(their_reference or "").strip()[:120] or None,
                        sent_at=now, author_id=author_id, summary=summary)
    session.add(referral)
    case.updated_at = now
    return referral


def close_referral(
    session: Session, referral: Referral, *, now: datetime, outcome: str | None = None,
    closed_by_id: int | None = None,
) -> Referral:
    """The authorities answered or dropped the referral. Closing is final: what was kept for
    it ends with it (the evidence feature ends its legal holds on `referral_closed`). Allowed
    after the victim stopped the case, so that such a hold can still end."""
    if referral.closed_at is not None:
        raise ValueError("this referral is already closed")
    text = (outcome or "").strip()
    if len(text) > MAX_OUTCOME:
        raise ValueError(f"the outcome is longer than {MAX_OUTCOME} characters")
    case = session.get(Case, referral.case_id)
    if case is None:
        raise ValueError("this referral's case no longer exists")
    # Conditional, so that of two caseworkers closing it at once only one does.
    closed = session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.closed_at.is_(None))
        .values(closed_at=now, closed_by_id=closed_by_id, outcome=text or None))
    if closed.rowcount != 1:
        raise ValueError("this referral is already closed")
    case.updated_at = now
    session.flush()
    require_listeners(referral_closed)
    referral_closed.send(case, session=session, now=now, referral_id=referral.id,
                         closed_by_id=closed_by_id)
    return referral


def case_referrals(session: Session, case: Case) -> list[Referral]:
    return list(session.scalars(select(Referral).where(Referral.case_id == case.id)
                                .order_by(Referral.sent_at.desc())))
