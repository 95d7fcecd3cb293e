"""Fictional platforms, users and cases for the demo. Every image is generated here."""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from disrupt.accounts.services import create_user, enrol_totp
from disrupt.cases.services import SubmittedHash
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.platforms.catalogue import import_catalogue
from disrupt.platforms.services import Notifier, add_platform, queue_removal_request
from disrupt.security import DataCipher
from disrupt.victims.services import open_case


@dataclass
class DemoLogins:
    admin_email: str
    admin_password: str
    caseworker_email: str
    caseworker_password: str
    # Second factor, set up in advance so the demo prints what an authenticator app needs.
    admin_totp_secret: str = ""
    caseworker_totp_secret: str = ""


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


def seed_demo(
    session: Session, *, platforms: dict[str, SimulatedPlatform], mailbox: NoticeMailbox,
    cipher: DataCipher, notifier: Notifier, now: datetime,
) -> DemoLogins:
    logins = DemoLogins("admin@demo.disrupt.test", secrets.token_urlsafe(12),
                        "caseworker@demo.disrupt.test", secrets.token_urlsafe(12))
    admin = create_user(session, email=logins.admin_email, name="Demo admin",
                        password=logins.admin_password, role="admin", now=now)
    caseworker = create_user(session, email=logins.caseworker_email, name="Demo caseworker",
                             password=logins.caseworker_password, role="caseworker", now=now)
    session.flush()
    logins.admin_totp_secret, _ = enrol_totp(session, admin, cipher, now)
    logins.caseworker_totp_secret, _ = enrol_totp(session, caseworker, cipher, now)
    picshare, cliphub, slowtube = (platforms[n] for n in ("PicShare", "ClipHub", "Slowtube"))
    registry = {
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
    import_catalogue(session)  # real platforms' names and domains, no contact: nothing is sent
    plans = [
        # (age group, language, [(platform, path)], send notices now)
        ("adult", "en", [("PicShare", "/photos/a1.jpg"), ("ClipHub", "/c/a2.jpg"),
                         ("Slowtube", "/watch/a3.jpg")], True),
        ("adult", "fr", [("PicShare", "/photos/b1.jpg"), ("PicShare", "/photos/b2.jpg")], True),
        ("minor", "en", [("ClipHub", "/c/c1.jpg")], True),
        ("adult", "en", [("PicShare", "/photos/d1.jpg")], False),
    ]
    seed = 0
    for age_group, language, places, send in plans:
        urls, hashes = [], []
        for platform_name, path in places:
            seed += 1
            data = demo_image(seed)
            urls.append(platforms[platform_name].host_media(path, data))
            digest = hash_image_bytes(data)
            hashes.append(SubmittedHash(kind="image", sha256=digest["sha256"],
                                        pipeline=digest["pipeline"], pdq=digest["pdq"],
                                        pdq_quality=digest["pdq_quality"],
                                        phash=digest["phash"]))
        case, _secret = open_case(
            session, age_group=age_group, language=language, consent_notices=True,
            consent_hash_sharing=True, contact=None, urls=urls, hashes=hashes,
            cipher=cipher, now=now,
        )
        session.flush()
        if not send:
            continue
        case.assignee_id = caseworker.id
        for platform in registry.values():
            on_platform = [u for u in case.urls if u.platform_id == platform.id]
            if on_platform:
                queue_removal_request(
                    session, case=case, platform=platform, urls=on_platform,
                    legal_basis=platform.default_legal_basis,
                    language=language, notifier=notifier, now=now,
                    created_by_id=caseworker.id,
                )
    return logins
