"""The escalation ladder of one reported URL, in one place: the order of the rungs, which
apply (and why one is skipped), the state of each rung taken, whether the URL is stuck and
which rung comes next. Pure: the caller reads the facts (trace, requests, steps) and passes
them in; nothing here touches the database.

A URL is *stuck* when it is not known removed (its latest check did not say removed) and its
latest rung's request was rejected or is overdue (platforms.deadlines). Delisting from
search results never makes a URL removed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from disrupt.platforms.hosting import EEA_COUNTRIES
from disrupt.platforms.ladder_bodies import (
    CDN_FORMS,
    COMPLAINT_WINDOW_DAYS,
    DSA_COMPLAINT,
    DSA_SETTLEMENT,
    EU_COORDINATORS,
    REGULATORS,
    SEARCH_ENGINES,
    FormBody,
)
from disrupt.translatable import N_

RUNGS = ("platform", "host", "cdn", "registrar", "google", "bing", "regulator",
         "dsa_complaint", "dsa_settlement")
#: Rungs sent as a notice through the outbox (e-mail or API), under every rule of a notice.
NOTICE_RUNGS = ("platform", "host", "cdn", "registrar")
#: Rungs on a web form: a prepared text and the form's link; the caseworker records them.
FORM_RUNGS = ("google", "bing", "regulator", "dsa_complaint", "dsa_settlement")
#: Search engines only hide the page from their results: the climb goes on once submitted.
DELISTING_RUNGS = ("google", "bing")

RUNG_NAMES = {
    "platform": N_("notice to the platform"),
    "host": N_("notice to the hosting provider"),
    "cdn": N_("notice to the CDN in front"),
    "registrar": N_("notice to the domain's registrar"),
    "google": N_("delisting request to Google Search"),
    "bing": N_("delisting request to Microsoft Bing"),
    "regulator": N_("report to the regulator"),
    "dsa_complaint": N_("complaint against the rejection (DSA art. 20)"),
    "dsa_settlement": N_("out-of-court settlement (DSA art. 21)"),
}

#: The state of a rung taken, in words.
STATES = {
    "queued": N_("waiting to be sent"),
    "prepared": N_("prepared, not submitted yet"),
    "waiting": N_("waiting for an answer"),
    "overdue": N_("no answer by the deadline"),
    "rejected": N_("rejected"),
    "done": N_("acted on"),
    "delisted": N_("delisted from search results (not a removal of the page)"),
    "failed": N_("could not be sent"),
}
STUCK_STATES = ("rejected", "overdue")
#: States after which the next rung may be taken.
FINAL_STATES = ("rejected", "overdue", "done", "delisted", "failed")


@dataclass(frozen=True)
class Contact:
    """Someone a notice rung goes to, read from the host's trace."""

    name: str
    email: str | None
    country: str | None = None


@dataclass(frozen=True)
class Taken:
    """A rung recorded for the URL: a removal request (notice rungs) or a step (web forms)."""

    rung: str
    state: str                      # a key of STATES
    at: datetime | None             # sent or submitted
    deadline: datetime | None
    recipient: str
    request_id: int | None = None
    step_id: int | None = None
    legal_basis: str | None = None
    rejected_at: datetime | None = None
    reason: str | None = None       # what the recipient said when it rejected


@dataclass(frozen=True)
class LadderFacts:
    """What the ladder of one URL depends on, read by the caller."""

    platform_name: str | None = None
    platform_jurisdiction: str | None = None
    traced: bool = False
    host: Contact | None = None      # the network's holder and its abuse e-mail
    host_is_cdn: bool = False        # the address is the CDN's: the origin is hidden
    cdn: str | None = None
    registrar: Contact | None = None
    removed: bool = False            # latest check: removed (or being confirmed)


@dataclass
class RungView:
    rung: str
    applies: bool
    reason: str | None = None        # why it is skipped
    taken: Taken | None = None
    contact: Contact | None = None   # for a notice rung: who it would go to
    body: FormBody | None = None     # for a web-form rung: where it goes

    @property
    def name(self) -> str:
        return RUNG_NAMES[self.rung]

    @property
    def state_words(self) -> str:
        if self.taken is not None:
            return STATES[self.taken.state]
        return "not taken" if self.applies else "skipped"


@dataclass
class Ladder:
    rungs: list[RungView] = field(default_factory=list)
    latest: RungView | None = None
    next: RungView | None = None
    stuck: bool = False
    may_climb: bool = False
    #: why the next rung cannot be taken yet, when it cannot
    waiting_reason: str | None = None


def regulator_for(country: str | None) -> FormBody | None:
    code = (country or "").strip().upper()
    if code in REGULATORS:
        return REGULATORS[code]
    if code in EEA_COUNTRIES:
        return EU_COORDINATORS
    return None


def ladder_country(facts: LadderFacts) -> str | None:
    """The platform's jurisdiction when it is a country, else the hosting country."""
    jurisdiction = (facts.platform_jurisdiction or "").strip().upper()
    if len(jurisdiction) == 2 and jurisdiction != "EU":
        return jurisdiction
    if facts.host is not None and facts.host.country:
        return facts.host.country.upper()
    return jurisdiction or None


def rejection_under_dsa(taken: Taken | None, facts: LadderFacts) -> bool:
    """The platform's rejection falls under the DSA: the notice rested on it, or the
    platform is in an EU or EEA country."""
    if taken is None or taken.state != "rejected":
        return False
    country = (facts.platform_jurisdiction or "").strip().upper()
    return taken.legal_basis == "dsa_art16" or country in EEA_COUNTRIES


def _host(facts: LadderFacts) -> RungView:
    if not facts.traced:
        return RungView("host", False, "Not traced yet: the worker traces every host, then "
                                       "its hosting provider is offered here.")
    if facts.host is None:
        return RungView("host", False, "The trace found no network holder for this host.")
    if facts.host_is_cdn:
        return RungView("host", False, f"The address belongs to the CDN {facts.host.name}: "
                                       "the hosting provider is hidden behind it; ask the CDN.")
    if not facts.host.email:
        return RungView("host", False, f"The network's holder ({facts.host.name}) gives no "
                                       "abuse e-mail in its RDAP record.")
    if facts.platform_name and facts.platform_name == facts.host.name:
        return RungView("host", False, f"The platform is its own hosting provider "
                                       f"({facts.host.name}): asked at the first rung.")
    return RungView("host", True, contact=facts.host)


def _cdn(facts: LadderFacts) -> RungView:
    if facts.host_is_cdn and facts.host is not None and facts.host.email:
        return RungView("cdn", True, contact=facts.host)
    if not facts.traced:
        return RungView("cdn", False, "Not traced yet: whether a CDN is in front is not known.")
    if not facts.cdn and not facts.host_is_cdn:
        return RungView("cdn", False, "No CDN in front of this host (from the trace).")
    name = facts.cdn or (facts.host.name if facts.host else "a CDN")
    form = CDN_FORMS.get(name)
    tail = f" It takes reports on its web form: {form}" if form else ""
    return RungView("cdn", False, f"{name} is in front, but the trace has no abuse e-mail for "
                                  f"it.{tail}")


def _registrar(facts: LadderFacts) -> RungView:
    if not facts.traced:
        return RungView("registrar", False, "Not traced yet: the registrar is not known.")
    if facts.registrar is None:
        return RungView("registrar", False, "Registrar unknown: the trace found none (a "
                                            "site reached by its IP address has none).")
    if not facts.registrar.email:
        return RungView("registrar", False, f"The registrar ({facts.registrar.name}) gives no "
                                            "abuse e-mail in its RDAP record.")
    return RungView("registrar", True, contact=facts.registrar)


def _dsa(rung: str, platform: Taken | None, facts: LadderFacts, now: datetime) -> RungView:
    body = DSA_COMPLAINT if rung == "dsa_complaint" else DSA_SETTLEMENT
    if platform is None or platform.state != "rejected":
        return RungView(rung, False, "Only against a rejection by the platform, and it did "
                                     "not reject the notice.", body=body)
    if not rejection_under_dsa(platform, facts):
        return RungView(rung, False, "The rejection is not under the DSA: the notice did not "
                                     "rest on it and the platform is not in the EU.", body=body)
    rejected = platform.rejected_at
    if rung == "dsa_complaint" and rejected is not None and \
            now > rejected + timedelta(days=COMPLAINT_WINDOW_DAYS):
        return RungView(rung, False, "More than six months since the rejection: too late for "
                                     "a complaint (DSA art. 20(1)).", body=body)
    return RungView(rung, True, body=body)


def _regulator(facts: LadderFacts) -> RungView:
    country = ladder_country(facts)
    body = regulator_for(country)
    if body is None:
        where = country or "an unknown country"
        return RungView("regulator", False, f"No regulator listed for {where} "
                                            "(disrupt/platforms/ladder_bodies.py).")
    return RungView("regulator", True, body=body)


def plan_ladder(facts: LadderFacts, taken: dict[str, Taken], *, now: datetime) -> Ladder:
    """Every rung with whether it applies (or why not) and what was taken; the latest rung
    taken, the next one, and whether the URL is stuck."""
    platform = taken.get("platform")
    views = [
        RungView("platform", True) if facts.platform_name else RungView(
            "platform", False, "On no registered platform: its hosting provider is asked "
                               "(Addresses on no registered platform)."),
        _host(facts), _cdn(facts), _registrar(facts),
        RungView("google", True, body=SEARCH_ENGINES["google"]),
        RungView("bing", True, body=SEARCH_ENGINES["bing"]),
        _regulator(facts),
        _dsa("dsa_complaint", platform, facts, now),
        _dsa("dsa_settlement", platform, facts, now),
    ]
    for view in views:
        view.taken = taken.get(view.rung)
    ladder = Ladder(rungs=views)
    taken_views = [v for v in views if v.taken is not None]
    ladder.latest = taken_views[-1] if taken_views else None
    after = views.index(ladder.latest) + 1 if ladder.latest else 0
    ladder.next = next((v for v in views[after:] if v.applies and v.taken is None), None)
    if facts.removed:
        ladder.next = None
        return ladder
    latest = ladder.latest.taken if ladder.latest else None
    ladder.stuck = latest is not None and latest.state in STUCK_STATES
    ladder.may_climb = ladder.next is not None and (latest is None or _climbable(latest))
    if ladder.next is not None and not ladder.may_climb and latest is not None:
        ladder.waiting_reason = (f"Waiting for the {RUNG_NAMES[latest.rung]}: "
                                 f"{STATES[latest.state]}.")
    return ladder


def _climbable(latest: Taken) -> bool:
    if latest.state in FINAL_STATES:
        return True
    return latest.rung in DELISTING_RUNGS and latest.state == "waiting"
