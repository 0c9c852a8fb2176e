"""Secrets and early switches read straight from the environment, never from a file.

Secrets (``SPOTIFY_CLIENT_SECRET``, the Metabase password...) must not live in ``config/``, and
the log switches are needed before the settings load (so a settings error still gets logged).
"""

from __future__ import annotations

import os


def secret(name: str) -> str | None:
    """Read a secret from the environment (never from a committed file); None if unset.

    Surrounding whitespace is not part of it: a ``.env`` saved with Windows line ends gives
    ``abc\r``, a pasted secret often a trailing space, and Spotify then answers
    ``invalid_client`` with nothing to say why.
    """
    value = (os.environ.get(name) or "").strip()
    return value or None


def secret_values(words: tuple[str, ...]) -> tuple[str, ...]:
    """Values of the environment variables whose names contain one of ``words`` (for redaction),
    as ``secret`` reads them, so the value sent is the value masked."""
    values = (v.strip() for k, v in os.environ.items() if any(w in k.upper() for w in words))
    return tuple(v for v in values if len(v) >= 4)


def early_logging(name: str, default: str) -> str:
    """``MUSIC_TRACKER_LOG_<name>``, read before the settings load: settings errors get logged."""
    return os.environ.get(f"MUSIC_TRACKER_LOG_{name}", default)
