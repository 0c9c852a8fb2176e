"""Logging setup: one place configures the ``pipeline`` and Luigi loggers.

Modules only do ``logger = logging.getLogger(__name__)``; nothing calls ``print()`` except the
CLI's user-facing summaries.
"""

from __future__ import annotations

import logging
import os

_FORMAT = "level=%(levelname)s time=%(asctime)s name=%(name)s msg=%(message)s"


def setup_logging(level: str | int | None = None) -> None:
    """Configure root logging once (key=value lines, greppable in ``docker logs``)."""
    level = level or os.environ.get("MUSIC_TRACKER_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    if not any(getattr(h, "_music_tracker", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._music_tracker = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("luigi", "luigi-interface"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger(noisy).level, logging.WARNING))
