"""The web app for gunicorn: `gunicorn 'disrupt.wsgi:app'`, with structured logs."""
from disrupt import create_app
from disrupt.logs import configure_logging

app = create_app()
configure_logging("web", fmt=app.config["LOG_FORMAT"])
