"""Who the web-form rungs of the escalation ladder go to, as data: the search engines'
delisting forms, the regulator or authority of each country, the DSA's art. 21 settlement
bodies. Each says what the body accepts, honestly: most regulators use a report to supervise
a provider and do not remove a given item. The links are the bodies' public pages; like the
platform catalogue's contacts, the organisation checks them before relying on them.

``answer_days`` is when the caseworker follows the request up if nothing came back: a date
we set ourselves unless ``deadline_note`` names a law that sets one."""
from __future__ import annotations

from dataclasses import dataclass

from disrupt.translatable import N_


@dataclass(frozen=True)
class FormBody:
    name: str
    link: str
    accepts: str
    answer_days: int
    deadline_note: str
    #: The language its form is read in, when it has one (the prepared text follows it).
    language: str | None = None


SEARCH_ENGINES: dict[str, FormBody] = {
    "google": FormBody(
        "Google Search", "https://support.google.com/websearch/answer/6302812",
        N_("Removal of links from Google Search results to intimate images shared without "
           "consent, asked by the person shown or an authorised representative, who must "
           "explain their authority. The page itself stays online."),
        14, N_("no deadline in law: our follow-up date")),
    "bing": FormBody(
        "Microsoft Bing", "https://www.microsoft.com/en-us/concern/revengeporn",
        N_("Removal of links from Bing results (and of content shared on OneDrive or Xbox) "
           "to intimate images shared without consent, asked by the person shown or on "
           "their behalf. The page itself stays online."),
        14, N_("no deadline in law: our follow-up date")),
}

#: By country code (ISO 3166-1 alpha-2) of the provider's jurisdiction or hosting country.
REGULATORS: dict[str, FormBody] = {
    "FR": FormBody(
        "Arcom", "https://www.arcom.fr/",
        N_("Arcom is France's Digital Services Coordinator: it takes complaints that a "
           "provider fails its DSA obligations (art. 53), such as acting on notices, and uses "
           "them to supervise it; it does not remove a given item itself. The content itself "
           "is reported to PHAROS with \"Refer to PHAROS\" on this page."),
        30, N_("no deadline in law: our follow-up date"), "fr"),
    "IE": FormBody(
        "Coimisiún na Meán", "https://www.cnam.ie/",
        N_("Ireland's Digital Services Coordinator, for the many platforms established in "
           "Ireland: takes complaints that a provider fails its DSA obligations (art. 53); "
           "it does not remove a given item itself."),
        30, N_("no deadline in law: our follow-up date"), "en"),
    "GB": FormBody(
        "Ofcom", "https://www.ofcom.org.uk/",
        N_("Ofcom enforces the Online Safety Act: it takes reports about a service's safety "
           "systems and uses them to supervise it; it does not handle individual complaints "
           "or remove content."),
        30, N_("no deadline in law: our follow-up date"), "en"),
    "AU": FormBody(
        "eSafety Commissioner", "https://www.esafety.gov.au/report/image-based-abuse",
        N_("eSafety's image-based abuse scheme takes reports from the person shown or someone "
           "they authorised, and can give the provider a removal notice (Online Safety Act "
           "2021)."),
        14, N_("no deadline in law for eSafety; a removal notice it gives runs 24 hours"),
        "en"),
    "US": FormBody(
        "Federal Trade Commission", "https://reportfraud.ftc.gov/",
        N_("The FTC enforces the TAKE IT DOWN Act's duty to remove within 48 hours of a valid "
           "request: it takes reports of a platform that does not, and uses them for "
           "enforcement; it does not handle individual complaints."),
        30, N_("no deadline in law: our follow-up date"), "en"),
}

#: Any other EU or EEA country: the coordinator of the provider's country of establishment.
EU_COORDINATORS = FormBody(
    "the Digital Services Coordinator of the provider's country",
    "https://digital-strategy.ec.europa.eu/en/policies/dsa-dscs",
    N_("Each EU country's Digital Services Coordinator takes complaints that a provider "
       "established there fails its DSA obligations (art. 53); the Commission's page lists "
       "them. It does not remove a given item itself."),
    30, N_("no deadline in law: our follow-up date"))

#: DSA art. 20: the platform's own internal complaint-handling system (its link is the
#: platform's contact); a rejection can be contested within six months.
DSA_COMPLAINT = FormBody(
    "the platform's internal complaint system (DSA art. 20)", "",
    N_("A notifier may contest the platform's decision on its notice, free of charge, "
       "within six months of being told of it (DSA art. 20); the platform must decide in a "
       "timely, diligent and non-arbitrary manner, not by automated means alone."),
    14, N_("no fixed deadline in law (\"timely\"): our follow-up date"))
COMPLAINT_WINDOW_DAYS = 183  # six months (DSA art. 20(1))

DSA_SETTLEMENT = FormBody(
    "a certified out-of-court dispute settlement body (DSA art. 21)",
    "https://digital-strategy.ec.europa.eu/en/policies/dsa-out-court-dispute-settlement",
    N_("A body certified by a Digital Services Coordinator settles disputes about a "
       "platform's decision on a notice; the platform must engage in good faith, the "
       "decision is not binding. The Commission's page lists the bodies and their fees."),
    90, N_("DSA art. 21(4): the body decides within 90 days of the complete complaint "
           "(up to 180 for complex disputes)"))

#: CDNs that take abuse reports through a web form (when the trace has no e-mail for them).
CDN_FORMS: dict[str, str] = {
    "Cloudflare": "https://abuse.cloudflare.com/",
    "Amazon CloudFront": "https://support.aws.amazon.com/#/contacts/report-abuse",
}
