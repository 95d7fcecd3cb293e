"""What a platform's e-mail probably says, by keyword rules in English and French: a proposal
the caseworker confirms or corrects, never applied on its own. Only the platform's own words
are read: the notice it quotes (which asks to "remove" the content) is cut off first."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# First matching row wins: a refusal often also says "remove" ("we will not remove"), and a
# request for information often also acknowledges the notice.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rejected", (
        r"does not (?:violate|breach|go against)", r"do(?:es)? not violate",
        r"not in violation", r"no violation", r"will not (?:be )?remov", r"won't remove",
        r"(?:decided|unable|not able) (?:not )?to (?:take action|remove)",
        r"declined?", r"reject(?:ed)?", r"(?:cannot|can't|could not) (?:remove|take action)",
        r"ne (?:viole|contrevient|enfreint) pas", r"pas contraire", r"aucune violation",
        r"ne (?:sera|pouvons|pourrons) pas (?:être )?(?:retir|supprim)", r"rejet(?:ée|é)?",
        r"refus(?:ée|é|ons)?", r"pas en mesure de (?:retirer|supprimer)",
    )),
    ("more_information", (
        r"(?:need|require)s? (?:more|additional|further) (?:information|details)",
        r"more information", r"please provide", r"could you (?:please )?(?:send|provide)",
        r"proof of identity", r"incomplete",
        r"(?:besoin|nécessaire) d[e'’] ?(?:plus d[e'’] ?|davantage d[e'’] ?)?"
        r"(?:informations|précisions)",
        r"informations? (?:complémentaires|supplémentaires)",
        r"merci de (?:nous )?(?:fournir|préciser|transmettre)",
        r"pièce d'identité", r"incomplète?",
    )),
    ("actioned", (
        r"(?:has|have) been (?:removed|taken down|disabled|deleted)",
        r"(?:removed|took down|disabled access to|deleted) the "
        r"(?:content|material|post|video|image|photo)",
        r"content (?:was |is )?(?:removed|taken down|no longer available)",
        r"access (?:has been|was) disabled", r"action (?:has been|was) taken",
        r"contenu (?:a été |est )?(?:supprimé|retiré)",
        r"(?:a|ont) été (?:supprimée?s?|retirée?s?)",
        r"(?:avons|a) (?:supprimé|retiré)", r"accès (?:a été )?(?:bloqué|désactivé)",
        r"n'est plus (?:accessible|disponible)",
    )),
    ("acknowledged", (
        r"(?:we )?(?:have )?received your (?:report|notice|request)", r"under review",
        r"reviewing", r"ticket", r"case (?:number|id)", r"acknowledge",
        r"(?:avons )?(?:bien )?reçu votre (?:signalement|notification|demande)",
        r"en cours d['’](?:examen|analyse|étude)", r"accusé de réception", r"numéro de dossier",
    )),
)
_COMPILED = tuple((status, re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE))
                  for status, patterns in RULES)

# Where a reply's quotation of an earlier message starts (Gmail, Outlook, Apple Mail, French).
_QUOTE_START = re.compile(
    r"^(?:on .{0,200} wrote:|le .{0,200} a écrit ?:|-{2,} ?(?:original message|message "
    r"d'origine|forwarded message|message transféré) ?-{2,}|from: .{0,200}|de ?: .{0,200})\s*$",
    re.IGNORECASE)
_REFERENCE = re.compile(
    r"(?:ticket|case|reference|ref|dossier|référence|numéro)\s*(?:number|no\.?|n°|id)?\s*[:#]?\s*"
    r"#?((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,40})", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n{2,}")
MAX_READ = 20_000
MAX_REASON = 1000


@dataclass(frozen=True)
class Proposal:
    status: str | None          # one of PROPOSED_STATUSES, None when no rule matched
    reason: str | None = None   # the platform's sentence, for a refusal or a question
    reference: str | None = None  # the platform's ticket number, when it gives one


def own_words(body: str) -> str:
    """The reply without the message it quotes (lines starting with '>', and everything
    after an "On … wrote:" line)."""
    kept = []
    for line in unicodedata.normalize("NFC", body[:MAX_READ]).splitlines():
        stripped = line.strip()
        if _QUOTE_START.match(stripped):
            break
        if not stripped.startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def _sentence_at(text: str, start: int) -> str:
    begin = 0
    for match in _SENTENCE_END.finditer(text, 0, start):
        begin = match.end()
    end_match = _SENTENCE_END.search(text, start)
    end = end_match.start() if end_match else len(text)
    return " ".join(text[begin:end].split())[:MAX_REASON]


def propose_status(body: str, our_reference: str | None = None) -> Proposal:
    """The status a platform's e-mail probably announces, with its reason and reference."""
    text = own_words(body)
    found = _REFERENCE.search(text)
    reference = None
    if found and (our_reference is None or found.group(1).lower() != our_reference.lower()):
        reference = found.group(1)[:120]
    for status, pattern in _COMPILED:
        match = pattern.search(text)
        if match:
            reason = (_sentence_at(text, match.start())
                      if status in ("rejected", "more_information") else None)
            return Proposal(status, reason, reference)
    return Proposal(None, None, reference)
