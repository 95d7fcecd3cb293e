"""Serve a Flask app over real HTTP for browser tests: werkzeug in a thread on 127.0.0.1.

    from tests.support.live import live_server, serve  # noqa: F401  (fixture)
    def test_x(live_server, browser): page.goto(live_server + "/")
    with serve(my_app) as base_url: ...
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from werkzeug.serving import make_server


@contextmanager
def serve(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Yield the base URL (no trailing slash) of `app` served on a free port."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The `app` fixture served over HTTP; yields its base URL."""
    with serve(app) as base_url:
        yield base_url
