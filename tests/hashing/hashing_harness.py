"""Helpers for the browser-hashing tests and bench/hashing.py.

* :func:`serve_static` - a threaded HTTP server on 127.0.0.1 serving
  ``disrupt/static`` under ``/static/`` and a tiny test page at ``/hashing-test.html``;
* :func:`open_hash_page` / :func:`browser_hash` - drive ``hashing.js`` with real
  ``File`` objects from an ``<input type=file>`` (Playwright ``set_input_files``);
* :func:`make_corpus` - the generated parity corpus (docs/hashing.md).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

REPO = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO / "disrupt" / "static"

TEST_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>hashing test</title></head>
<body>
<input type="file" id="files" multiple>
<script type="module">
  import * as hashing from "/static/js/hashing/hashing.js";
  window.hashing = hashing;
  window.hashInputFiles = async () => {
    const files = Array.from(document.getElementById("files").files);
    return Promise.all(files.map(async (f) => {
      try {
        return await hashing.hashFile(f);
      } catch (e) {
        return { error: e.name, message: e.message };
      }
    }));
  };
  window.hashingReady = true;
</script>
</body></html>
"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path.split("?")[0] == "/hashing-test.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(TEST_PAGE)))
            self.end_headers()
            self.wfile.write(TEST_PAGE)
            return
        if not self.path.startswith("/static/"):
            self.send_error(404)
            return
        self.path = self.path[len("/static") :]
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve_static() -> Iterator[str]:
    """Serve disrupt/static; yields the base URL (http://127.0.0.1:PORT)."""
    handler = functools.partial(_Handler, directory=str(STATIC_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def open_hash_page(context_or_browser, base_url: str, init_script: str | None = None):
    """Open the test page (optionally with an init script) and wait for the module."""
    page = context_or_browser.new_page()
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{base_url}/hashing-test.html")
    page.wait_for_function("window.hashingReady === true")
    return page


def browser_hash(page, paths: list[Path | str], timeout_ms: float = 300_000) -> list[dict]:
    """Hash files in the browser through the real module, all in one evaluate call."""
    page.set_input_files("#files", [str(p) for p in paths])
    page.set_default_timeout(timeout_ms)
    return page.evaluate("() => window.hashInputFiles()")


def hamming_hex(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# ---------------------------------------------------------------------------
# Generated corpus


def _png16(path: Path, arr: np.ndarray) -> None:
    """Write a 16-bit PNG (grey if 2-D, RGB / RGBA if HxWx3 / HxWx4) with zlib; Pillow cannot
    write 16-bit RGB."""
    arr = np.asarray(arr, dtype=">u2")
    h, w = arr.shape[:2]
    colour = {1: 0, 3: 2, 4: 6}[1 if arr.ndim == 2 else arr.shape[2]]
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _photo_like(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A deterministic picture with smooth regions, edges and some noise."""
    rs = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sx, sy = max(w, 1) / 6.0, max(h, 1) / 5.0
    r = 128 + 90 * np.sin(x / sx * 2.1 + 0.3) * np.cos(y / sy * 1.7)
    g = 128 + 80 * np.sin((x + 2 * y) / (sx + sy) * 3.0)
    b = np.where((x // max(w // 7, 1) + y // max(h // 5, 1)) % 2 == 0, 60.0, 190.0)
    img = np.stack([r, g, b], -1) + rs.randint(-10, 11, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _exif_with_orientation(o: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = o
    return exif.tobytes()


#: Files of the generated corpus whose browser hashes are NOT bit-exact; value =
#: the PDQ/pHash bound asserted by the tests (measured worst case, docs/hashing.md).
INEXACT: dict[str, tuple[int, int]] = {}


def make_corpus(out: Path, with_12mp: bool = True) -> dict[str, Path]:
    """Write the generated parity corpus into ``out``; returns {name: path}."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def save(name: str, im: Image.Image, **kw) -> None:
        p = out / name
        im.save(p, **kw)
        files[name] = p

    # odd sizes, very tall / very wide
    for w, h in [(333, 517), (517, 333), (1001, 999), (97, 61)]:
        save(f"odd-{w}x{h}.jpg", Image.fromarray(_photo_like(w, h, w)), quality=88)
        save(f"odd-{w}x{h}.png", Image.fromarray(_photo_like(w, h, h)))
    save("tall-40x3000.png", Image.fromarray(_photo_like(40, 3000, 1)))
    save("wide-3000x40.jpg", Image.fromarray(_photo_like(3000, 40, 2)), quality=90)
    save("tall-7x1500.png", Image.fromarray(_photo_like(7, 1500, 3)))
    save("wide-2500x9.png", Image.fromarray(_photo_like(2500, 9, 4)))
    # tiny
    for n in (1, 2, 3, 4, 5, 6):
        save(f"tiny-{n}x{n}.png", Image.fromarray(_photo_like(n, n, n)))
    save("tiny-1x7.png", Image.fromarray(_photo_like(1, 7, 5)))
    save("exact-32x32.png", Image.fromarray(_photo_like(32, 32, 6)))
    save("exact-64x64.png", Image.fromarray(_photo_like(64, 64, 7)))
    # flat
    save("flat-grey.png", Image.new("RGB", (120, 90), (128, 128, 128)))
    save("flat-black.png", Image.new("RGB", (64, 64), (0, 0, 0)))
    save("flat-white.jpg", Image.new("RGB", (200, 150), (255, 255, 255)), quality=90)
    save("flat-colour.png", Image.new("RGB", (300, 200), (200, 30, 90)))
    # symmetric
    half = _photo_like(60, 80, 8)
    save("sym-lr.png", Image.fromarray(np.concatenate([half, half[:, ::-1]], 1)))
    save("sym-ud.png", Image.fromarray(np.concatenate([half, half[::-1]], 0)))
    sq = _photo_like(90, 90, 9).astype(np.uint16)
    save("sym-diag.png", Image.fromarray(((sq + sq.transpose(1, 0, 2)) // 2).astype(np.uint8)))
    quad = np.concatenate([half, half[:, ::-1]], 1)
    save("sym-4way.png", Image.fromarray(np.concatenate([quad, quad[::-1]], 0)))
    save(
        "checkerboard.png",
        Image.fromarray(((np.indices((64, 64)).sum(0) // 8) % 2 * 255).astype(np.uint8), "L"),
    )
    # grey, palette, 1-bit
    photo = Image.fromarray(_photo_like(400, 300, 10))
    save("grey.jpg", photo.convert("L"), quality=90)
    save("grey.png", photo.convert("L"))
    save("palette.png", photo.quantize(64))
    save("bilevel.png", photo.convert("1"))
    # JPEG variants
    save("baseline-q95.jpg", photo, quality=95)
    save("progressive.jpg", photo, quality=85, progressive=True)
    save("subsampling-444.jpg", photo, quality=90, subsampling=0)
    save("subsampling-422.jpg", photo, quality=90, subsampling=1)
    # WebP
    save("lossy.webp", photo, quality=80)
    save("lossless.webp", photo, lossless=True)
    # GIF: animated, first frame hashed; and one with a transparent index
    frame2 = Image.fromarray(_photo_like(400, 300, 11)).quantize(128)
    p = out / "animated.gif"
    photo.quantize(128).save(p, save_all=True, append_images=[frame2], duration=100, loop=0)
    files["animated.gif"] = p
    p = out / "animated.webp"
    photo.save(p, save_all=True, append_images=[frame2.convert("RGB")], duration=100, quality=80)
    files["animated.webp"] = p
    p = out / "animated.png"  # APNG: the default image is the first frame
    photo.save(p, save_all=True, append_images=[frame2.convert("RGB")], duration=100)
    files["animated.png"] = p
    pal = photo.quantize(32)
    arr = np.asarray(pal).copy()
    arr[50:150, 100:250] = 31
    pal2 = Image.fromarray(arr, "P")
    pal2.putpalette(pal.getpalette())
    save("transparent-index.gif", pal2, transparency=31)
    save("transparent-index.png", pal2, transparency=31)
    # EXIF orientations 1..8 (non-square so a wrong rotation changes the size)
    base = Image.fromarray(_photo_like(160, 100, 12))
    for o in range(1, 9):
        save(f"exif-{o}.jpg", base, quality=90, exif=_exif_with_orientation(o))
    save("exif-6.png", base, exif=_exif_with_orientation(6))
    for o in range(1, 9):  # Chromium ignores WebP orientation: hashing.js applies it
        kw = {"lossless": True} if o % 2 else {"quality": 90}
        save(f"exif-{o}.webp", base, exif=_exif_with_orientation(o), **kw)
    # embedded ICC profile (ignored on both sides: colorSpaceConversion "none")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    save("icc-srgb.jpg", photo, quality=90, icc_profile=icc)
    save("icc-srgb.png", photo, icc_profile=icc)
    # alpha: binary alpha is exact, semi-transparent alpha is a documented exception
    rgba = np.concatenate([_photo_like(200, 150, 13), np.full((150, 200, 1), 255, np.uint8)], -1)
    rgba[40:110, 50:150, 3] = 0
    save("alpha-binary.png", Image.fromarray(rgba, "RGBA"))
    grad = rgba.copy()
    grad[:, :, 3] = (np.arange(200)[None, :] * 255 // 199).astype(np.uint8)
    save("alpha-gradient.png", Image.fromarray(grad, "RGBA"))
    save("alpha-gradient.webp", Image.fromarray(grad, "RGBA"), lossless=True)
    pairs = np.zeros((256, 256, 4), np.uint8)  # every (colour, alpha) pair
    pairs[:, :, 0] = np.arange(256)[None, :]
    pairs[:, :, 1] = 255 - np.arange(256)[None, :]
    pairs[:, :, 2] = np.arange(256)[None, :] ^ np.arange(256)[:, None]
    pairs[:, :, 3] = np.arange(256)[:, None]
    save("alpha-all-pairs.png", Image.fromarray(pairs, "RGBA"))
    la = Image.fromarray(grad, "RGBA").convert("LA")
    save("alpha-grey-la.png", la)
    # 16 bits per sample
    low = np.random.RandomState(17).randint(0, 256, (120, 180, 4)).astype(np.uint32)
    g16 = _photo_like(180, 120, 14)[:, :, 0].astype(np.uint32) * 256 + low[:, :, 0]
    _png16(out / "grey16.png", g16)
    files["grey16.png"] = out / "grey16.png"
    c16 = _photo_like(180, 120, 15).astype(np.uint32) * 256 + low[:, :, :3]
    _png16(out / "rgb16.png", c16)
    files["rgb16.png"] = out / "rgb16.png"
    a16 = (np.arange(180)[None, :, None] * 65535 // 179).repeat(120, 0).astype(np.uint32)
    _png16(out / "rgba16.png", np.concatenate([c16, a16], -1))
    files["rgba16.png"] = out / "rgba16.png"
    # CMYK JPEG (colour conversion differs between libjpeg/Pillow and Chromium)
    save("cmyk.jpg", photo.convert("CMYK"), quality=90)
    # 12 MP photo
    if with_12mp:
        save("photo-12mp.jpg", Image.fromarray(_photo_like(4000, 3000, 16)), quality=90)
    return files


def make_12mp_jpeg(path: Path) -> Path:
    Image.fromarray(_photo_like(4000, 3000, 16)).save(path, quality=90)
    return path


def image_bytes(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()
