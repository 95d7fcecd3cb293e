"""Synthetic pictures for the verdict corpus, made in code (never real people): textured
images (gradient + shapes + noise) whose PDQ quality is well above 50, their
re-encodings, genuinely different photos, page furniture (logo, ad, spacer) and a
decompression bomb."""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw

from disrupt.hashing.matching import HashRecord
from disrupt.hashing.pipeline import hash_image_bytes


def textured(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """Gradient, random shapes and pixel noise: rich enough for a high PDQ quality."""
    rng = np.random.default_rng(seed)
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b, c = rng.uniform(0.2, 1.0, 3)
    base = np.stack([xs / w * 255 * a, ys / h * 255 * b, (xs + ys) / (w + h) * 255 * c], -1)
    image = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(24):
        x, y = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        dx, dy = int(rng.integers(30, w // 3)), int(rng.integers(30, h // 3))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + dx, y + dy], fill=colour)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-18, 18, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def flat(colour: tuple[int, int, int], size: tuple[int, int], text: str = "") -> bytes:
    """Page furniture: a logo, an ad banner, a placeholder (low PDQ quality is fine)."""
    image = Image.new("RGB", size, colour)
    if text:
        ImageDraw.Draw(image).text((4, 4), text, fill=(255, 255, 255))
    return encode(image, "PNG")


def bomb_png(width: int = 10_000, height: int = 10_000) -> bytes:
    """A valid 1-bit PNG of width x height black pixels: a few KiB that decode to
    width x height pixels (300 MB as RGB at the default size). Written row by row so that
    making it costs no memory."""
    row = b"\0" + b"\0" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


@dataclass(frozen=True)
class Pictures:
    victim: bytes           # the picture the victim hashed (JPEG q 90)
    victim_q40: bytes       # the same picture re-encoded at JPEG quality 40
    victim_half: bytes      # resized to half, re-encoded
    victim_png: bytes       # the same picture as PNG
    victim_webp: bytes      # the same picture as WebP (picture > source)
    different: bytes        # a different photo (what was posted is not what was hashed)
    others: tuple[bytes, ...]  # unrelated photos (other people's posts, thumbnails)
    logo: bytes
    ad: bytes
    avatar: bytes
    spacer: bytes           # a 1x1 GIF, the lazy-loading placeholder
    removed_placeholder: bytes  # an image host's "image removed" picture
    bomb: bytes

    @property
    def victim_hashes(self) -> tuple[HashRecord, ...]:
        return (record(1, self.victim),)

    @property
    def placeholder_digest(self) -> str:
        return hashlib.sha256(self.removed_placeholder).hexdigest()


def record(record_id: int, data: bytes) -> HashRecord:
    """The case's hashes of a picture, as the server pipeline computes them."""
    h = hash_image_bytes(data)
    return HashRecord(id=record_id, pdq=h["pdq"], pdq_quality=h["pdq_quality"],
                      phash=h["phash"], sha256=h["sha256"])


@cache
def pictures() -> Pictures:
    victim = textured(101)
    spacer = BytesIO()
    Image.new("RGB", (1, 1), (255, 255, 255)).save(spacer, "GIF")
    removed = Image.new("RGB", (400, 300), (200, 200, 200))
    ImageDraw.Draw(removed).text((120, 140), "This image was removed", fill=(90, 90, 90))
    return Pictures(
        victim=encode(victim, quality=90),
        victim_q40=encode(victim, quality=40),
        victim_half=encode(victim.resize((320, 240), Image.LANCZOS), quality=85),
        victim_png=encode(victim, "PNG"),
        victim_webp=encode(victim, "WEBP", quality=80),
        different=encode(textured(777), quality=90),
        others=tuple(encode(textured(1000 + i, (320, 240)), quality=80) for i in range(6)),
        logo=flat((20, 60, 160), (120, 40), "BoardTalk"),
        ad=flat((220, 120, 0), (728, 90), "Buy now"),
        avatar=flat((90, 160, 90), (48, 48)),
        spacer=spacer.getvalue(),
        removed_placeholder=encode(removed, "PNG"),
        bomb=bomb_png(),
    )
