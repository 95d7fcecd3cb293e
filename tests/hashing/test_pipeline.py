"""Server-side pipeline (disrupt/hashing/pipeline.py), no browser."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

from disrupt.hashing.pipeline import (
    HEIF_SUPPORTED,
    IMAGE_KEYS,
    MIN_QUALITY,
    PIPELINE_VERSION,
    VIDEO_KEYS,
    UnsupportedMedia,
    hash_image_bytes,
    hash_media_bytes,
    hash_media_file,
    sniff_kind,
    to_rgb8,
    weakness,
)


def _png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def _photo(w=120, h=90, seed=0) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8))


def test_pipeline_version_names_installed_versions():
    for pkg in ("pillow", "imagehash", "pdqhash"):
        assert f"{pkg}-{importlib.metadata.version(pkg)}" in PIPELINE_VERSION.lower()


def test_image_result_keys_and_values():
    im = _photo()
    data = _png(im)
    r = hash_image_bytes(data)
    assert set(r) == IMAGE_KEYS
    assert r["sha256"] == hashlib.sha256(data).hexdigest()
    assert (r["width"], r["height"]) == (120, 90)
    assert r["pipeline"] == PIPELINE_VERSION
    bits, q = pdqhash.compute(np.asarray(im))
    assert r["pdq"] == np.packbits(bits.astype(np.uint8)).tobytes().hex()
    assert r["pdq_quality"] == q and isinstance(r["pdq_quality"], int)
    assert r["phash"] == str(imagehash.phash(im))
    assert len(r["pdq"]) == 64 and r["pdq"] == r["pdq"].lower() and len(r["phash"]) == 16


def test_hash_media_file_image(tmp_path):
    p = tmp_path / "x.png"
    p.write_bytes(_png(_photo()))
    assert hash_media_file(p) == hash_image_bytes(p.read_bytes())


@pytest.mark.parametrize(
    "head",
    [
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2",  # mp4
        b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",  # mov
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01",  # webm / mkv
        b"RIFF\x00\x10\x00\x00AVI LIST",  # avi
    ],
)
def test_video_sha256_md5(tmp_path, head):
    data = head + bytes(range(256)) * 5000
    p = tmp_path / "v.bin"
    p.write_bytes(data)
    r = hash_media_file(p)
    assert set(r) == VIDEO_KEYS
    assert r == {
        "kind": "video",
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "pipeline": PIPELINE_VERSION,
    }
    assert hash_media_bytes(data) == r
    assert weakness(r) is None


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"hello, this is a text file\n", "JPEG"),
        (b"", "JPEG"),
        (b"%PDF-1.7\n", "JPEG"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "damaged"),
        # a broken HEIC: "export it as JPEG" without pillow-heif, "damaged" with it
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
         "damaged" if HEIF_SUPPORTED else "HEIC"),
        (b"BM" + b"\x00" * 60, "JPEG"),  # BMP: not accepted (browser parity)
    ],
)
def test_unsupported_media(tmp_path, data, needle):
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    with pytest.raises(UnsupportedMedia) as exc:
        hash_media_file(p)
    assert needle in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_unsupported_text_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("just words")
    with pytest.raises(UnsupportedMedia, match="photo or video"):
        hash_media_file(p)


def test_sniff_kind():
    assert sniff_kind(b"\xff\xd8\xff\xdb") == "jpeg"
    assert sniff_kind(b"\x89PNG\r\n\x1a\n") == "png"
    assert sniff_kind(b"GIF89a") == "gif"
    assert sniff_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff_kind(b"\x00\x00\x00\x1cftypavif") == "avif"
    assert sniff_kind(b"text") is None


def test_alpha_rule_composites_over_white():
    px = np.array(
        [[[200, 100, 0, 0], [200, 100, 0, 255], [200, 100, 50, 128], [10, 20, 30, 1]]], np.uint8
    )
    out = np.asarray(to_rgb8(Image.fromarray(px, "RGBA"))).astype(int)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [200, 100, 0]
    assert out[0, 2].tolist() == [
        round(200 * 128 / 255) + 127,
        round(100 * 128 / 255) + 127,
        round(50 * 128 / 255) + 127,
    ]
    assert out[0, 3].tolist() == [254, 254, 254]


def test_transparency_index_and_16bit_rule():
    pal = Image.new("P", (4, 1))
    pal.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    pal.putpixel((0, 0), 1)
    pal.info["transparency"] = 1
    assert np.asarray(to_rgb8(pal))[0, 0].tolist() == [255, 255, 255]
    assert np.asarray(to_rgb8(pal))[0, 1].tolist() == [10, 20, 30]
    i16 = Image.fromarray(np.array([[0, 255, 256, 65535, 0x1234]], np.uint16))
    assert i16.mode.startswith("I;16")
    assert np.asarray(to_rgb8(i16))[0, :, 0].tolist() == [0, 0, 1, 255, 0x12]


def test_exif_orientation_applied():
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    _photo(160, 100).save(buf, "JPEG", exif=exif.tobytes())
    r = hash_image_bytes(buf.getvalue())
    assert (r["width"], r["height"]) == (100, 160)


def test_weakness():
    tiny = hash_image_bytes(_png(_photo(4, 4)))
    assert tiny["pdq"] == "0" * 64 and tiny["pdq_quality"] == 0
    assert "too small" in weakness(tiny)
    flat = hash_image_bytes(_png(Image.new("RGB", (100, 100), (90, 90, 90))))
    assert flat["pdq_quality"] < 50 and "too little detail" in weakness(flat)
    assert weakness(hash_image_bytes(_png(_photo()))) is None


def test_gif_first_frame():
    a, b = _photo(seed=1), _photo(seed=2)
    buf = io.BytesIO()
    a.quantize(64).save(buf, "GIF", save_all=True, append_images=[b.quantize(64)])
    r = hash_image_bytes(buf.getvalue())
    first = hash_image_bytes(_png(a.quantize(64).convert("RGB")))
    assert r["pdq"] == first["pdq"] and r["phash"] == first["phash"]


def test_selftest_constants_match_server():
    """selftest-image.js is what make_selftest.py generates from the current pipeline."""
    import make_selftest

    assert make_selftest.OUT.read_text() == make_selftest.render()


def test_js_pipeline_version_and_sniffing_table_match():
    from pathlib import Path

    js = (Path(__file__).resolve().parents[2] / "disrupt/static/js/hashing/media.js").read_text()
    assert f'PIPELINE_VERSION = "{PIPELINE_VERSION}"' in js
    for brand in ("heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis"):
        assert f'"{brand}"' in js


def test_max_pixels_same_on_both_sides():
    from pathlib import Path

    from PIL import Image as PILImage

    from disrupt.hashing.pipeline import MAX_PIXELS

    assert MAX_PIXELS == 2 * PILImage.MAX_IMAGE_PIXELS
    worker = Path(__file__).resolve().parents[2] / "disrupt/static/js/hashing/hash-worker.js"
    assert f"const MAX_PIXELS = {MAX_PIXELS};" in worker.read_text()


@pytest.mark.skipif(not HEIF_SUPPORTED,
                    reason="pillow-heif not installed (pip install 'disrupt[heic]')")
def test_heic_photo_hashes_like_its_source(tmp_path):
    """An iPhone-style HEIC photo goes through `disrupt hash`; HEVC is lossy, so its hashes
    stay near (not equal to) those of the same pixels as PNG. (Browsers cannot decode HEIC:
    the portal asks for a JPEG export, see test_browser_parity.)"""
    import json

    from click.testing import CliRunner

    from disrupt.cli import cli
    from tests.support.fixtures import require_pdq_reference

    source = Image.open(require_pdq_reference() / "bridge-mods" / "aaa-orig.jpg").convert("RGB")
    png, heic = tmp_path / "photo.png", tmp_path / "IMG_0001.HEIC"
    source.save(png)
    source.save(heic, "HEIF", quality=90)
    result = CliRunner().invoke(cli, ["hash", str(heic), str(png), "--json"])
    assert result.exit_code == 0, result.output
    from_heic, from_png = (json.loads(line) for line in result.output.splitlines())
    assert set(from_heic) == IMAGE_KEYS
    assert (from_heic["width"], from_heic["height"]) == source.size
    assert from_heic["sha256"] == hashlib.sha256(heic.read_bytes()).hexdigest()
    pdq_distance = bin(int(from_heic["pdq"], 16) ^ int(from_png["pdq"], 16)).count("1")
    phash_distance = bin(int(from_heic["phash"], 16) ^ int(from_png["phash"], 16)).count("1")
    assert pdq_distance <= 8 and phash_distance <= 4  # measured: 2 and 0
    assert from_heic["pdq_quality"] >= MIN_QUALITY
