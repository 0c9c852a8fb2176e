"""Secrets and early switches read straight from the environment, never from a file.

Secrets (``SPOTIFY_CLIENT_SECRET``, the Metabase password...) must not live in ``config/``, and
the log switches are needed before the settings load (so a settings error still gets logged).
"""

from __future__ import annotations

import os


def secret(name: str) -> str | None:
    """Read a secret from the environment (never from a committed file); None if unset."""
    value = os.environ.get(name)
    return value or None


def secret_values(words: tuple[str, ...]) -> tuple[str, ...]:
    """Values of the environment variables whose names contain one of ``words`` (for redaction)."""
    return tuple(
        v for k, v in os.environ.items() if any(w in k.upper() for w in words) and len(v) >= 4
    )


def early_logging(name: str, default: str) -> str:
    """``MUSIC_TRACKER_LOG_<name>``, read before the settings load: settings errors get logged."""
    return os.environ.get(f"MUSIC_TRACKER_LOG_{name}", default)
