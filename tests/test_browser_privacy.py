"""Nothing leaves the device: while a victim opens a case with several images in Chromium,
no request carries any 1 KiB slice of any file (raw or base64) nor any file name, and the
hashes the server stores are exactly what the server pipeline computes for those files."""
from __future__ import annotations

import base64
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from disrupt.cases.models import Case, MediaHash
from disrupt.hashing.pipeline import hash_media_file
from tests.support.apps import make_test_app
from tests.support.live import serve

pytestmark = pytest.mark.browser
WINDOW = 1024


def _pictures(folder: Path) -> list[Path]:
    paths = []
    for n, (fmt, size) in enumerate([("JPEG", (640, 480)), ("PNG", (300, 420)),
                                     ("WEBP", (512, 288))]):
        image = Image.new("RGB", size, (30 * n, 90, 200 - 40 * n))
        draw = ImageDraw.Draw(image)
        for i in range(40):
            draw.rectangle((i * 13 % size[0], i * 29 % size[1], i * 13 % size[0] + 60,
                            i * 29 % size[1] + 40), fill=(i * 6, 255 - i * 5, n * 70))
        out = BytesIO()
        image.save(out, fmt, quality=90)
        path = folder / f"private-name-{n}.{fmt.lower()}"
        path.write_bytes(out.getvalue())
        paths.append(path)
    return paths


def _windows(data: bytes) -> set[bytes]:
    """Every 1 KiB window of the file, and of its base64 form."""
    encoded = base64.b64encode(data)
    return ({data[i:i + WINDOW] for i in range(0, len(data) - WINDOW + 1)}
            | {encoded[i:i + WINDOW] for i in range(0, len(encoded) - WINDOW + 1)})


def _contains_window(blob: bytes, windows: set[bytes]) -> bool:
    return any(blob[i:i + WINDOW] in windows for i in range(0, len(blob) - WINDOW + 1))


def test_no_file_bytes_or_names_leave_the_browser(browser, sqlite_url, tmp_path):
    pictures = _pictures(tmp_path)
    app = make_test_app(sqlite_url, tmp_path)
    with serve(app) as base:
        context = browser.new_context(service_workers="block")
        page = context.new_page()
        sent: list[tuple[str, bytes]] = []
        page.on("request", lambda r: sent.append(
            (r.url, (r.post_data_buffer or b"") + str(r.headers).encode())))
        page.goto(base + "/case/new")
        page.check("#reporter-0")
        page.check("#intimate-0")
        page.check("#age_group-0")
        page.set_input_files("#file-picker", [str(p) for p in pictures])
        page.wait_for_function(
            "() => document.getElementById('hash-status').textContent.includes('3')",
            timeout=60_000)
        page.wait_for_function(
            "() => JSON.parse(document.getElementById('hashes').value || '[]').length === 3",
            timeout=60_000)
        page.fill("#urls", "https://pics.example/p/1")
        page.check("#consent_notices")
        page.check("#consent_hash_sharing")
        page.click("#case-form button[type=submit]")
        page.wait_for_selector("#case-reference")
        reference = page.inner_text("#case-reference").strip()
        context.close()
    app.extensions["disrupt.db"].dispose()

    assert any(url.endswith("/case/new") and body.startswith(b"csrf_token")
               or b"hashes=" in body for url, body in sent), "the case form was not recorded"
    for picture in pictures:
        windows = _windows(picture.read_bytes())
        for url, body in sent:
            assert not _contains_window(body, windows), f"{picture.name} bytes in {url}"
            assert picture.name.encode() not in body and picture.name not in url
            assert picture.stem.encode() not in body and picture.stem not in url

    # The browser's hashes are the server pipeline's, bit for bit.
    db = make_test_app(sqlite_url, tmp_path).extensions["disrupt.db"]
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        stored = sorted((m.sha256, m.pdq, m.phash, m.pdq_quality) for m in session.scalars(
            select(MediaHash).where(MediaHash.case_id == case.id)))
        assert all(m.label is None or "private-name" not in m.label for m in case.hashes)
    expected = sorted((h["sha256"], h["pdq"], h["phash"], h["pdq_quality"])
                      for h in map(hash_media_file, pictures))
    assert stored == expected
    db.dispose()
