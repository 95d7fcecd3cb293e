"""Fictional platforms, users and cases for the demo. Every image is generated here."""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.accounts.models import User
from disrupt.accounts.services import create_user, enrol_totp, record_audit
from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.services import SubmittedHash
from disrupt.cases.status import set_assignee
from disrupt.db import Database, utcnow
from disrupt.demo.cdn import SimulatedCDN
from disrupt.demo.escalation import seed_escalation
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.platforms.catalogue import import_catalogue
from disrupt.platforms.hosting import learn_host_provider
from disrupt.platforms.models import Platform
from disrupt.platforms.services import Notifier, add_platform, queue_removal_request
from disrupt.security import DataCipher
from disrupt.tracing.cdn import cdn_from_holder
from disrupt.tracing.jobs import trace_due_hosts
from disrupt.tracing.services import traces_for_hosts
from disrupt.victims.services import open_case

Site = SimulatedPlatform | SimulatedCDN


@dataclass
class DemoLogins:
    admin_email: str
    admin_password: str
    caseworker_email: str
    caseworker_password: str
    # Second factor, set up in advance so the demo prints what an authenticator app needs.
    admin_totp_secret: str = ""
    caseworker_totp_secret: str = ""
    traced_url: str = ""  # the address on no platform, whose host the demo traces


def demo_image(seed: int) -> bytes:
    """An abstract picture: coloured shapes on a gradient, different for each seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240))
    draw = ImageDraw.Draw(image)
    top, bottom = [rng.randrange(256) for _ in range(3)], [rng.randrange(256) for _ in range(3)]
    for y in range(240):
        t = y / 239
        draw.line([(0, y), (319, y)],
                  fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    for _ in range(12):
        x, y = rng.randrange(300), rng.randrange(220)
        w, h = rng.randrange(20, 120), rng.randrange(20, 120)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x, y, x + w, y + h], fill=colour)
    out = BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


#: (age group, language, [(site, path)], who gets its notices): "registry" — the demo sends
#: them now to the registered platform; "trace" — its host is on no platform, so the trace
#: finds who to send to (notify_traced_host); None — left in the queue for the evaluator.
PLANS: list[tuple[str, str, list[tuple[str, str]], str | None]] = [
    ("adult", "en", [("PicShare", "/photos/a1.jpg"), ("ClipHub", "/c/a2.jpg"),
                     ("Slowtube", "/watch/a3.jpg")], "registry"),
    # Slowtube's request of the first case walks up the escalation ladder (escalation.py);
    # this one is sent by e-mail, and Slowtube answers it by e-mail.
    ("adult", "fr", [("PicShare", "/photos/b1.jpg"), ("PicShare", "/photos/b2.jpg"),
                     ("Slowtube", "/watch/b3.jpg")], "registry"),
    ("minor", "en", [("ClipHub", "/c/c1.jpg")], "registry"),
    ("adult", "en", [("PicShare", "/photos/d1.jpg")], None),
    ("adult", "en", [("FileNest", "/v/e1.jpg")], "trace"),
]


def seed_demo(
    session: Session, *, platforms: dict[str, SimulatedPlatform], sites: dict[str, Site],
    mailbox: NoticeMailbox, cipher: DataCipher, notifier: Notifier, now: datetime,
) -> DemoLogins:
    """Staff, the three registered platforms, and the cases of PLANS (``sites`` are the
    hosts no platform covers). The unknown host's notice waits for notify_traced_host."""
    logins, caseworker = _create_staff(session, cipher, now)
    registry = _register_platforms(session, platforms, mailbox)
    import_catalogue(session)  # real platforms' names and domains, no contact: nothing is sent
    places = {**platforms, **sites}
    numbers = iter(range(1, 1000))
    for age_group, language, where, send in PLANS:
        urls, pictures = [], []
        for name, path in where:
            pictures.append(demo_image(next(numbers)))
            urls.append(places[name].host_media(path, pictures[-1]))
        case = _open_case(session, age_group, language, urls, pictures, cipher, now)
        if send is None:
            continue
        set_assignee(session, case, caseworker.id)
        if send == "trace":
            logins.traced_url = urls[0]
            continue
        for platform in registry.values():
            on_platform = [u for u in case.urls if u.platform_id == platform.id]
            if on_platform:
                queue_removal_request(
                    session, case=case, platform=platform, urls=on_platform,
                    legal_basis=platform.default_legal_basis,
                    language=language, notifier=notifier, now=now,
                    created_by_id=caseworker.id,
                )
    seed_escalation(session, caseworker_id=caseworker.id, notifier=notifier, now=now)
    return logins


def _create_staff(session: Session, cipher: DataCipher, now: datetime) -> tuple[DemoLogins, User]:
    logins = DemoLogins("admin@demo.disrupt.test", secrets.token_urlsafe(12),
                        "caseworker@demo.disrupt.test", secrets.token_urlsafe(12))
    admin = create_user(session, email=logins.admin_email, name="Demo admin",
                        password=logins.admin_password, role="admin", now=now)
    caseworker = create_user(session, email=logins.caseworker_email, name="Demo caseworker",
                             password=logins.caseworker_password, role="caseworker", now=now)
    session.flush()
    logins.admin_totp_secret, _ = enrol_totp(session, admin, cipher, now)
    logins.caseworker_totp_secret, _ = enrol_totp(session, caseworker, cipher, now)
    return logins, caseworker


def _register_platforms(session: Session, platforms: dict[str, SimulatedPlatform],
                        mailbox: NoticeMailbox) -> dict[str, Platform]:
    picshare, cliphub, slowtube = (platforms[n] for n in ("PicShare", "ClipHub", "Slowtube"))
    return {
        "PicShare": add_platform(session, name="PicShare", domains=[picshare.ip],
                                 channel="email",
                                 contact=mailbox.register("abuse@picshare.demo", picshare),
                                 jurisdiction="EU", deadline_hours=24,
                                 removal_rules={"soft_404_markers": [
                                     "This content has been removed."]}),
        "ClipHub": add_platform(session, name="ClipHub", domains=[cliphub.ip], channel="api",
                                contact=cliphub.notice_endpoint, jurisdiction="US",
                                default_legal_basis="take_it_down"),
        "Slowtube": add_platform(session, name="Slowtube", domains=[slowtube.ip],
                                 channel="email",
                                 contact=mailbox.register("legal@slowtube.demo", slowtube),
                                 jurisdiction="FR", default_legal_basis="lcen_art6"),
    }


def _open_case(session: Session, age_group: str, language: str, urls: list[str],
               pictures: list[bytes], cipher: DataCipher, now: datetime) -> Case:
    hashes = []
    for data in pictures:
        digest = hash_image_bytes(data)
        hashes.append(SubmittedHash(kind="image", sha256=digest["sha256"],
                                    pipeline=digest["pipeline"], pdq=digest["pdq"],
                                    pdq_quality=digest["pdq_quality"], phash=digest["phash"]))
    case, _secret = open_case(
        session, age_group=age_group, language=language, consent_notices=True,
        consent_hash_sharing=True, contact=None, urls=urls, hashes=hashes,
        cipher=cipher, now=now,
    )
    session.flush()
    return case


def notify_traced_host(db: Database, config: Any, *, url: str, caseworker_email: str,
                       notifier: Notifier) -> tuple[str, int]:
    """What a caseworker does for an address on no platform, done by the demo through the
    real services: the worker's tracing job traces every host (RDAP through the network
    guard), the registry learns the provider the trace names (the CDN when the network is a
    CDN's), and the notice is queued to its abuse address. Returns that address and the
    case's id, or raises DemoSeedError saying what the trace lacked."""
    trace_due_hosts(db, config, worker="demo-seed", now=utcnow)
    host = urlsplit(url).hostname or ""
    with db.session() as session:
        trace = traces_for_hosts(session, {host}).get(host)
        network = (trace.network if trace is not None else None) or {}
        holder, email = network.get("holder"), (network.get("abuse") or {}).get("email")
        if not holder or not email:
            problems = "; ".join(trace.problems) if trace is not None else "not traced"
            raise DemoSeedError(f"the trace of {host} names no abuse contact ({problems})")
        now = utcnow()
        caseworker = session.scalar(select(User).where(User.email == caseworker_email))
        kind = "cdn" if cdn_from_holder(holder, network.get("name")) else "hosting"
        platform = learn_host_provider(session, name=holder, email=email, host=host, kind=kind,
                                       country=network.get("country"), now=now)
        session.flush()
        reported = session.scalar(select(ReportedURL).where(ReportedURL.url == url))
        assert reported is not None and reported.platform_id == platform.id
        record_audit(session, action="learn_host_provider", now=now, actor=caseworker,
                     record=platform, case_id=reported.case_id, host=host, kind=kind,
                     contact=platform.contact)
        queue_removal_request(session, case=reported.case, platform=platform, urls=[reported],
                              legal_basis=platform.default_legal_basis,
                              language=reported.case.language, notifier=notifier, now=now,
                              created_by_id=caseworker.id if caseworker else None)
        session.commit()
        return email, reported.case_id


class DemoSeedError(Exception):
    """A seeded step the demo could not do; the demo goes on without it."""
