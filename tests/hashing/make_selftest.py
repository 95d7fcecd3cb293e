"""Regenerate disrupt/static/js/hashing/selftest-image.js (the selfTest() image).

    .venv/bin/python tests/hashing/make_selftest.py

Run it whenever PIPELINE_VERSION changes; test_selftest_constants_match_server
checks that the embedded values equal what the server pipeline computes.
"""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from disrupt.hashing.pipeline import hash_image_bytes

OUT = Path(__file__).resolve().parents[2] / "disrupt/static/js/hashing/selftest-image.js"


def make_png() -> tuple[bytes, np.ndarray]:
    w, h = 64, 48
    y, x = np.mgrid[0:h, 0:w].astype(float)
    r = 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    g = 128 + 100 * np.sin((x + y) / 9.0)
    b = (x * 4 + y * 3) % 256
    noise = np.random.RandomState(7).randint(-12, 13, (h, w, 3))
    img = np.clip(np.stack([r, g, b], -1) + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, "PNG", optimize=True)
    return buf.getvalue(), img


def render() -> str:
    data, img = make_png()
    res = hash_image_bytes(data)
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], -1)
    b64 = base64.b64encode(data).decode()
    lines = [b64[i : i + 96] for i in range(0, len(b64), 96)]
    body = " +\n".join(f'  "{line}"' for line in lines)
    fields = "".join(
        f"  {k}: {v!r},\n" if not isinstance(v, str) else f'  {k}: "{v}",\n' for k, v in res.items()
    )
    return (
        "// Generated: the self-test image (64x48 opaque PNG, no colour chunks) and what\n"
        "// the server pipeline computes for it. Regenerate with tests/hashing/make_selftest.py\n"
        "// whenever the pipeline version changes.\n"
        f"export const SELFTEST_PNG_BASE64 =\n{body};\n"
        f"export const SELFTEST_EXPECTED = {{\n{fields}}};\n"
        "// SHA-256 of the 64*48*4 straight-RGBA bytes getImageData must return.\n"
        f'export const SELFTEST_PIXELS_SHA256 = "{hashlib.sha256(rgba.tobytes()).hexdigest()}";\n'
    )


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
