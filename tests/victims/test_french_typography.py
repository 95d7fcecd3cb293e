"""French typography and vocabulary in every French text: the portal's catalogue, the French
notices and the PHAROS referral summary. A non-breaking space (U+00A0 or U+202F) goes before
? : ! ; and inside « », and no state or status is left in English."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.pofile import read_po

from disrupt.cases.models import URL_STATES
from disrupt.platforms.models import REQUEST_STATUSES

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
NBSP = "\u00a0\u202f"
# Punctuation that ends a clause: followed by a space, the end, or a closing mark. A "?" in a
# query string or the ":" of "https://" or "10:30" is not followed by one of these.
_HIGH_PUNCTUATION = re.compile(r"(?<=.)([?:!;])(?=\s|$|[»”\")])", re.S)
_ENGLISH_WORDS = re.compile(r"\b(removed|online|pending|indeterminate|restricted|"
                            r"removal_suspected|queued|sent|acknowledged|actioned|rejected|"
                            r"failed|draft|video)\b")


def typography_faults(text: str) -> list[str]:
    """Each place in a French text where a non-breaking space is missing, with its context."""
    faults = []
    for match in _HIGH_PUNCTUATION.finditer(text):
        if text[match.start() - 1] not in NBSP:
            faults.append(text[max(0, match.start() - 20):match.end() + 5])
    for match in re.finditer(r"«(.)", text):
        if match.group(1) not in NBSP:
            faults.append(text[max(0, match.start() - 5):match.end() + 20])
    for match in re.finditer(r"(.)»", text):
        if match.group(1) not in NBSP:
            faults.append(text[max(0, match.start() - 20):match.end() + 5])
    return faults


def test_the_checker_finds_what_it_should():
    assert typography_faults("Vous êtes sûre ? Oui : c'est « ça ».")
    assert typography_faults("état actuel: retirée")
    assert not typography_faults("Vous êtes sûre\u202f? Oui\u00a0: « ça\u00a0».".replace(
        "« ", "«\u00a0"))
    assert not typography_faults("https://example.com/page?id=3 à 10:30.")


def _french_catalogue_texts() -> list[str]:
    texts = []
    for message in read_po(CATALOGUE.open("rb")):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        texts.extend(s for s in strings if s)
    return texts


def test_french_catalogue_has_non_breaking_spaces():
    faults = [f for text in _french_catalogue_texts() for f in typography_faults(text)]
    assert not faults, faults[:10]


def test_french_notice_templates_have_non_breaking_spaces():
    templates = sorted((ROOT / "templates" / "notices").glob("*.fr.txt"))
    assert templates
    # The first line is the mail header "Subject: …", not French text.
    faults = [(path.name, f) for path in templates for f in typography_faults(
        path.read_text(encoding="utf-8").removeprefix("Subject: "))]
    assert not faults, faults[:10]


def test_french_referral_summary_in_french_words(db):
    from disrupt.cases.models import Case, ReportedURL
    from disrupt.platforms.notices import Notifier
    from disrupt.platforms.referrals import referral_summary

    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    with db.session() as session:
        case = Case(reference="DSR-TEST-0001", secret_hash="x", age_group="adult",
                    language="fr", status="in_progress", created_at=now, updated_at=now)
        session.add(case)
        for number, state in enumerate(URL_STATES):
            session.add(ReportedURL(case=case, url=f"https://pics.example/{number}",
                                    host="pics.example", reported_by="victim", state=state,
                                    created_at=now))
        session.flush()
        notifier = Notifier(name="Hotline", email="notices@hotline.example",
                            trusted_flagger=False)
        french = referral_summary(session, case, notifier=notifier, language="fr", now=now)
        english = referral_summary(session, case, notifier=notifier, language="en", now=now)
    assert "removed" in english  # the check below can fail
    body = "\n".join(line for line in french.splitlines() if "https://" not in line)
    assert not _ENGLISH_WORDS.findall(body), body
    assert "retirée" in body and "état actuel\u00a0: " in body
    assert not typography_faults(body.replace("UTC", "")), typography_faults(body)


def test_every_state_and_status_has_french_words():
    from disrupt.platforms.referrals import _STATE_WORDS, _STATUS_WORDS

    for language in ("en", "fr"):
        assert set(_STATE_WORDS[language]) == set(URL_STATES)
        assert set(_STATUS_WORDS[language]) == set(REQUEST_STATUSES)
    assert not _ENGLISH_WORDS.findall(" ".join(_STATE_WORDS["fr"].values())
                                      + " " + " ".join(_STATUS_WORDS["fr"].values()))


# Gender agreement. The reader of the portal may be a woman or a man, so nothing said to
# "vous" takes a gendered form unless written inclusively (« seul·e ») or avoided; and the
# portal's nouns are mostly feminine (une URL, une adresse, une demande, une image…), so a
# participle or adjective that describes one agrees with it (« retirée », « envoyée »).
_FEMININE_NOUNS = (r"URL|adresses?|demandes?|images?|photos?|vidéos?|captures?|références?|"
                   r"notifications?|réponses?|empreintes?|copies?|plateformes?|preuves?")
_BEING = (r"(?:est|sont|sera|seront|était|étaient|a\s+été|ont\s+été|avait\s+été|"
          r"sera\s+été|reste|restent|semble|semblent|paraît|paraissent)")
_ADVERBS = r"(?:\s+(?:pas|plus|encore|déjà|bien|toujours|jamais|peut-être|aussi|bientôt))*"
# A masculine participle or adjective: first-group participles (-é, -és) and the irregular or
# adjectival forms the texts of such a service use.
_MASCULINE = (r"(?:[\wÀ-ÿ]+és?|reçus?|mis|pris|faits?|ouverts?|soumis|inscrits?|détruits?|"
              r"perdus?|prévenus?|tenus?|seuls?|sûrs?|prêts?|certains?|inquiets?|mineurs?|"
              r"majeurs?|satisfaits?|surpris|heureux|lus?|vus?|connus?)")
_READER = re.compile(
    r"(?:\b[Vv]ous\s+(?:n[’']\s*)?(?:êtes|serez|soyez|étiez|restez|semblez|sentez|"
    r"avez\s+été|serez\s+été)|[ÊE]tes-vous|[Ss]oyez)" + _ADVERBS
    + r"\s+(" + _MASCULINE + r")(?![\w·])")
_NOUN = re.compile(r"\b(?:" + _FEMININE_NOUNS + r")(?:\s+" + _BEING + r")?" + _ADVERBS
                   + r"\s+(" + _MASCULINE + r")(?![\w·])")
# Fixed phrases whose masculine word is not an agreement: a noun (« accusé de réception »),
# or a participle of « avoir » that agrees with nothing before it.
_FIXED = re.compile(r"accusé de réception|[Rr]éférence du dossier|[Rr]éférence du")


def agreement_faults(text: str) -> list[str]:
    """Each gendered form said to the reader, or masculine form describing a feminine noun."""
    text = _FIXED.sub(" ", text)
    return [text[max(0, m.start() - 10):m.end() + 10]
            for rx in (_READER, _NOUN) for m in rx.finditer(text)]


def test_the_agreement_checker_finds_what_it_should():
    for wrong in ("Vous êtes seul dans cette démarche.", "Êtes-vous sûr de vouloir retirer ?",
                  "Si vous êtes mineur, appelez le 119.", "Vous n’êtes pas encore connecté.",
                  "Une URL retiré du site.", "Vos images ont été supprimés.",
                  "La demande est bien envoyé.", "Deux adresses sont encore signalés.",
                  "Votre adresse est confirmé"):
        assert agreement_faults(wrong), wrong
    for right in ("Vous n’êtes pas seul·e.", "Vous êtes mineur·e ?", "Une URL retirée.",
                  "Vos images ont été supprimées.", "La demande est bien envoyée.",
                  "Vous avez trouvé les images ailleurs ?", "Voulez-vous vraiment retirer ?",
                  "une URL qui a fait l’objet d’une vérification", "Accusé de réception",
                  "Votre adresse est confirmée"):
        assert not agreement_faults(right), (right, agreement_faults(right))


def test_french_catalogue_agrees_in_gender():
    faults = [f for text in _french_catalogue_texts() for f in agreement_faults(text)]
    assert not faults, faults[:10]


def test_french_notices_agree_in_gender():
    templates = sorted((ROOT / "templates" / "notices").glob("*.fr.txt"))
    assert templates
    faults = [(path.name, f) for path in templates
              for f in agreement_faults(path.read_text(encoding="utf-8"))]
    assert not faults, faults[:10]


def test_french_states_and_statuses_agree_with_their_nouns():
    """A URL's state describes « l’adresse », a request's status « la demande »: both feminine."""
    from disrupt.platforms.referrals import _STATE_WORDS, _STATUS_WORDS

    said = ([f"L’adresse est {word}." for word in _STATE_WORDS["fr"].values()]
            + [f"La demande est {word}." for word in _STATUS_WORDS["fr"].values()])
    assert agreement_faults("L’adresse est retiré.")  # the check below can fail
    faults = [f for sentence in said for f in agreement_faults(sentence)]
    assert not faults, faults
