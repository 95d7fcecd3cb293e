"""Server-side image and video hashing (DESIGN.md §5).

Pure Python, no Flask.  The browser module ``disrupt/static/js/hashing/hashing.js``
computes the same values, bit for bit, from the same file (docs/hashing.md).

Pipeline for an image:

1. decode (JPEG, PNG, WebP, GIF first frame; HEIC/HEIF only when ``pillow-heif``
   is installed);
2. ``ImageOps.exif_transpose``;
3. convert to 8-bit RGB with ONE rule (:func:`to_rgb8`):

   * 16-bit samples keep their high byte (``v >> 8``);
   * any alpha (an alpha band, or a ``transparency`` entry: GIF / PNG tRNS) is
     composited over white with integer arithmetic:
     ``out = round(c * a / 255) + (255 - a)`` (no ties are possible, so
     ``round(x / 255) == (x + 127) // 255``);
   * everything else is Pillow's ``convert("RGB")``;

4. pHash = ``imagehash.phash(rgb)``; PDQ = ``pdqhash.compute(numpy.asarray(rgb))``
   at full resolution; SHA-256 of the raw file bytes.

The result dict has exactly the keys ``pdq``, ``pdq_quality``, ``phash``,
``sha256``, ``width``, ``height`` and ``pipeline``.  Use :func:`weakness` to learn
whether a perceptual hash is too weak to be matched on.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from typing import Any

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps

try:  # optional: HEIC/HEIF photos from iPhones
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the environment
    HEIF_SUPPORTED = False

__all__ = [
    "HEIF_SUPPORTED",
    "IMAGE_KEYS",
    "MAX_PIXELS",
    "MIN_QUALITY",
    "MIN_SIDE",
    "PIPELINE_VERSION",
    "MediaTooLarge",
    "UnsupportedMedia",
    "VIDEO_KEYS",
    "hash_fetched_image",
    "hash_image_bytes",
    "hash_media_bytes",
    "hash_media_file",
    "hash_video_bytes",
    "sniff_kind",
    "to_rgb8",
    "weakness",
]

#: Recorded with every hash: a change of any part changes bits.
PIPELINE_VERSION = "disrupt-hash-1;pillow-13.0.0;imagehash-4.3.2;pdqhash-0.2.8"

#: PDQ quality below this is "weak" (Meta's default threshold).
MIN_QUALITY = 50
#: Images with a side shorter than this are "weak" (PDQ gives an all-zero hash).
MIN_SIDE = 5

IMAGE_KEYS = frozenset({"pdq", "pdq_quality", "phash", "sha256", "width", "height", "pipeline"})
VIDEO_KEYS = frozenset({"kind", "sha256", "md5", "pipeline"})

_IMAGE_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF"} | ({"HEIF"} if HEIF_SUPPORTED else set())
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
#: Largest image accepted (both sides): Pillow's decompression-bomb error limit.
MAX_PIXELS = 2 * 89_478_485  # 178,956,970 = 2 * Image.MAX_IMAGE_PIXELS (Pillow default)


class UnsupportedMedia(ValueError):
    """The file is not an image or video this service can hash."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "This file is not a photo or video we can read. Please choose a JPEG, PNG, "
            "WebP or GIF image, or an MP4, MOV, WebM, MKV or AVI video."
        )


class MediaTooLarge(UnsupportedMedia):
    """A fetched image whose pixel count (read from its header) is above the cap."""

    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        size = f"{width}x{height} pixels" if width else "over 178 megapixels"
        super().__init__(f"the image is {size}, more than the {max_pixels:,} pixels "
                         "a check decodes")
        self.width, self.height, self.max_pixels = width, height, max_pixels


def sniff_kind(head: bytes) -> str | None:
    """Classify a file by its first bytes: 'jpeg', 'png', 'gif', 'webp', 'heif',
    'avif', 'video' or None.  The browser module uses the same table."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska / WebM
        return "video"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heif"
        if brand in _AVIF_BRANDS:
            return "avif"
        return "video"  # mp4, m4v, mov (qt), 3gp, ...
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "video"  # QuickTime without an ftyp box
    return None


def to_rgb8(im: Image.Image) -> Image.Image:
    """Convert a decoded, oriented image to 8-bit RGB with the documented rule."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.clip(np.asarray(im).astype(np.int64), 0, 65535) >> 8
        im = Image.fromarray(arr.astype(np.uint8), "L")
        mode = "L"
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if not has_alpha:
        return im if mode == "RGB" else im.convert("RGB")
    if mode in ("RGBa", "La"):  # premultiplied modes (never produced by a decoder)
        im = im.convert(mode.upper())
        mode = im.mode
    rgba = np.asarray(im if mode == "RGBA" else im.convert("RGBA"), dtype=np.uint32)
    a = rgba[:, :, 3:4]
    out = (rgba[:, :, :3] * a + 127) // 255 + (255 - a)
    return Image.fromarray(out.astype(np.uint8), "RGB")


def _pdq_hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


_TOO_LARGE = "This image is too large to process (over 178 megapixels)."


def _open_image(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """Decode the first frame. With ``max_pixels`` (fetched media), the size is read from
    the header before any pixel is decoded: a JPEG is decoded at 1/2, 1/4 or 1/8 scale
    (draft mode) when that brings it under the cap, anything else above it is refused."""
    kind = sniff_kind(data[:16])
    if kind == "heif" and not HEIF_SUPPORTED:
        raise UnsupportedMedia(
            "This is an HEIC/HEIF photo (the iPhone format), which we cannot read yet. "
            "Please export it as JPEG (on iPhone: Settings > Camera > Formats > "
            "Most Compatible) and try again."
        )
    if kind not in ("jpeg", "png", "gif", "webp", "heif"):
        raise UnsupportedMedia()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in _IMAGE_FORMATS:
                raise UnsupportedMedia()
            if max_pixels is None and im.width * im.height > MAX_PIXELS:
                raise UnsupportedMedia(_TOO_LARGE)
            if max_pixels is not None and im.width * im.height > max_pixels:
                width, height = im.size
                if im.format in ("JPEG", "MPO"):
                    scale = 2
                    while scale < 8 and (width // scale) * (height // scale) > max_pixels:
                        scale *= 2
                    im.draft("RGB", (-(-width // scale), -(-height // scale)))
                if im.width * im.height > max_pixels:
                    raise MediaTooLarge(width, height, max_pixels)
            im.seek(0)
            im.load()
    except UnsupportedMedia:
        raise
    except Image.DecompressionBombError as exc:  # raised by Image.open itself
        if max_pixels is not None:
            raise MediaTooLarge(0, 0, max_pixels) from exc
        raise UnsupportedMedia(_TOO_LARGE) from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "can't read"
        raise UnsupportedMedia(
            "We could not read this image: the file may be damaged or incomplete."
        ) from exc
    return im


def hash_image_bytes(data: bytes) -> dict[str, Any]:
    """Hash one image file's bytes.  Raises :class:`UnsupportedMedia`."""
    return _hash_image(data, _open_image(data))


def hash_fetched_image(data: bytes, *, max_pixels: int) -> dict[str, Any]:
    """Hash a picture the URL checker fetched, decoding at most ``max_pixels`` pixels (a
    large JPEG at a reduced scale, which PDQ tolerates; see :func:`_open_image`).

    Raises :class:`MediaTooLarge` above the cap, :class:`UnsupportedMedia` otherwise.
    ``width``/``height`` are those of the image hashed (decoded, then box-reduced to
    about :data:`FETCHED_HASH_PIXELS`). Unlike :func:`hash_image_bytes`
    (the victim's own file, hashed at full resolution), a decompression bomb here costs
    megabytes, not gigabytes.
    """
    return _hash_image(data, _open_image(data, max_pixels=max(1, int(max_pixels))),
                       reduce_to=FETCHED_HASH_PIXELS)


#: Fetched pictures are box-reduced to about this many pixels before hashing: PDQ
#: downsamples to 64x64 anyway, and the float buffers it builds cost ~27 bytes a pixel.
FETCHED_HASH_PIXELS = 1 << 20


def _reduced(im: Image.Image, pixels: int) -> Image.Image:
    factor = int(np.ceil(np.sqrt(im.width * im.height / pixels)))
    if factor < 2:
        return im
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        return im  # 16-bit and rare modes: hashed as decoded (still under the pixel cap)
    return im.reduce(factor)


def _hash_image(data: bytes, im: Image.Image, reduce_to: int | None = None) -> dict[str, Any]:
    try:
        oriented = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - broken EXIF: browsers ignore it too
        oriented = im
    if reduce_to is not None:
        oriented = _reduced(oriented, reduce_to)
    rgb = to_rgb8(oriented)
    bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)))
    return {
        "pdq": _pdq_hex(bits),
        "pdq_quality": int(quality),
        "phash": str(imagehash.phash(rgb)),
        "sha256": hashlib.sha256(data).hexdigest(),
        "width": rgb.width,
        "height": rgb.height,
        "pipeline": PIPELINE_VERSION,
    }


def hash_video_bytes(data: bytes) -> dict[str, Any]:
    """Exact-copy hashes of a video: ``{kind: "video", sha256, md5, pipeline}``."""
    return {
        "kind": "video",
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "pipeline": PIPELINE_VERSION,
    }


def hash_media_bytes(data: bytes) -> dict[str, Any]:
    """Dispatch on the file signature: image dict, video dict or UnsupportedMedia."""
    kind = sniff_kind(data[:16])
    if kind == "video":
        return hash_video_bytes(data)
    return hash_image_bytes(data)


def hash_media_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Hash the file at ``path`` (image or video).  Raises :class:`UnsupportedMedia`."""
    with open(path, "rb") as fh:
        head = fh.read(16)
        if sniff_kind(head) == "video":
            sha, md5 = hashlib.sha256(head), hashlib.md5(head, usedforsecurity=False)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
                md5.update(chunk)
            return {
                "kind": "video",
                "sha256": sha.hexdigest(),
                "md5": md5.hexdigest(),
                "pipeline": PIPELINE_VERSION,
            }
        data = head + fh.read()
    return hash_image_bytes(data)


def weakness(result: dict[str, Any]) -> str | None:
    """Why a result's perceptual hashes are too weak to match on, or None.

    Videos (no perceptual hash) return None: their SHA-256/MD5 are exact-copy hashes.
    """
    if "pdq" not in result:
        return None
    if min(int(result["width"]), int(result["height"])) < MIN_SIDE:
        return (
            f"The image is too small ({result['width']}x{result['height']} pixels): "
            "it cannot be matched reliably."
        )
    if int(result["pdq_quality"]) < MIN_QUALITY:
        return (
            f"The image has too little detail (PDQ quality {result['pdq_quality']} < "
            f"{MIN_QUALITY}), e.g. a flat or nearly uniform picture: matches would be unreliable."
        )
    return None
