"""Logging for the analytics package: one stderr handler, level from LOG_LEVEL."""

import logging

from flask import Flask

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def init_app(app: Flask) -> None:
    """Send ``analytics`` log records to stderr unless the host already handles them."""
    logger = logging.getLogger("analytics")
    logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
