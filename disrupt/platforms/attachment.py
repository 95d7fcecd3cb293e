"""Which platform a reported address belongs to. The platforms feature keeps
``reported_urls.platform_id``: here for new addresses (the ``urls_reported`` event), in
``services.reattach_urls`` when a platform's domains change."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from disrupt.cases.models import ReportedURL
from disrupt.events import urls_reported
from disrupt.platforms.models import Platform
from disrupt.platforms.services import platform_for_host


def on_urls_reported(_case: Any, *, session: Session, now: datetime,
                     urls: list[ReportedURL], **_: object) -> None:
    platforms: dict[str, Platform | None] = {}
    for url in urls:
        if url.host not in platforms:
            platforms[url.host] = platform_for_host(session, url.host)
        url.platform = platforms[url.host]


def connect() -> None:
    urls_reported.connect(on_urls_reported)
