"""Fixtures for the hashing tests: static server, one shared page, the corpus.

The Playwright ``browser`` fixture comes from tests/conftest.py.
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import PDQ_REFERENCE, require_pdq_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hashing_harness import (  # noqa: E402
    browser_hash,
    make_corpus,
    open_hash_page,
    serve_static,
)

from disrupt.hashing.pipeline import hash_media_file  # noqa: E402

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif")


@pytest.fixture(scope="session")
def static_base_url() -> Iterator[str]:
    with serve_static() as base:
        yield base


@pytest.fixture(scope="session")
def hash_page(browser, static_base_url):
    """One page with hashing.js loaded, reused by all browser tests."""
    context = browser.new_context()
    page = open_hash_page(context, static_base_url)
    yield page
    context.close()


@pytest.fixture(scope="session")
def reference_images() -> list[Path]:
    require_pdq_reference()
    return [
        Path(p)
        for p in sorted(glob.glob(str(PDQ_REFERENCE / "**" / "*"), recursive=True))
        if p.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS
    ]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return make_corpus(tmp_path_factory.mktemp("hash-corpus"))


@pytest.fixture(scope="session")
def parity_results(hash_page, reference_images, corpus):
    """{path: (server_result, browser_result)} for the reference images and the
    generated corpus, the browser side computed in one evaluate call."""
    paths = list(reference_images) + list(corpus.values())
    browser = browser_hash(hash_page, paths)
    return {p: (hash_media_file(p), b) for p, b in zip(paths, browser, strict=True)}
