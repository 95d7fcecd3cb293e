"""DISRUPT: takedown of non-consensual intimate images."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from disrupt.paths import templates_dir


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web app: a list of small configure steps, config read here only."""
    from disrupt import configure, listeners

    listeners.connect()
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(templates_dir()),
        static_folder="static",
    )
    for step in (
        configure.configure_settings,
        configure.configure_proxy,
        configure.configure_database,
        configure.configure_security,
        configure.configure_i18n,
        configure.configure_blueprints,
        configure.configure_errors,
    ):
        step(app, config or {})
    return app
