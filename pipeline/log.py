"""Logging setup: JSON lines with the run id, secrets redacted, files rotated by size.

Modules only do ``logger = logging.getLogger(__name__)``; nothing calls ``print()`` except the
CLI's user-facing summaries. Every record (ours, Luigi's, urllib3's) passes through
``RedactingFilter`` on each handler, so a token that slips into a message or an exception is
masked before it reaches the console or the log file. ``set_run_id`` stamps every later line
with the cron run's id, which is how one run's lines are grepped out of ``pipeline.log``.

Fields of a line: ``ts level logger msg run_id`` always; ``task dataset date rows seconds``
when the caller passes them in ``extra`` (``tasks.base.timed_result`` does); ``exc`` for errors.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from pathlib import Path
from typing import Any

_TEXT_FORMAT = "level=%(levelname)s time=%(asctime)s run=%(run_id)s name=%(name)s msg=%(message)s"

#: Structured fields copied from ``extra={...}`` into the JSON line when present.
EXTRA_FIELDS = ("task", "dataset", "date", "rows", "seconds", "account", "job", "event")

_run_id: str | None = None


def set_run_id(run_id: str | None) -> None:
    """Stamp every following log line of this process with ``run_id`` (None to clear)."""
    global _run_id
    _run_id = run_id


def current_run_id() -> str | None:
    return _run_id


# ---------- redaction

_SECRET_KEYS = (
    r"access_token|refresh_token|client_secret|password|passwd|secret|api_key|apikey|token"
    r"|session_id|x-metabase-session|x-api-key|x-gotify-key"
)
_PATTERNS = [
    # Authorization: Bearer abc / 'Authorization': 'Basic abc'
    re.compile(
        r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer\s+|basic\s+|token\s+)?[^\s'\",}]+"
    ),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"),
    # "access_token": "abc" / access_token=abc / refresh_token: abc
    re.compile(rf"(?i)([\"']?(?:{_SECRET_KEYS})[\"']?\s*[:=]\s*[\"']?)([^\s'\",&}}]+)"),
]
MASK = "***"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask tokens, secrets and Authorization headers in ``text``."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{MASK}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text


def _known_secrets() -> tuple[str, ...]:
    """Values of secret-looking environment variables: masked wherever they appear."""
    from pipeline.settings import secret_values

    return secret_values(("SECRET", "TOKEN", "PASSWORD", "API_KEY", "APIKEY"))


class RedactingFilter(logging.Filter):
    """Masks secrets in the formatted message and exception text; adds the run id."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _known_secrets()
        message = record.getMessage()
        cleaned = redact(message, secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
            record.exc_info = None
        record.run_id = _run_id or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "run_id": getattr(record, "run_id", None) or _run_id,
            "msg": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


JsonFormatter.converter = __import__("time").gmtime  # timestamps in UTC, like the data


def _handler_tag(handler: logging.Handler, tag: str) -> logging.Handler:
    handler._music_tracker = tag  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    return handler


def _ours(tag: str) -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_music_tracker", None) == tag]


def setup_logging(level: str | int | None = None, console_format: str | None = None) -> None:
    """Configure the console handler once (before settings are known; JSON unless told)."""
    from pipeline.settings import early_logging

    fmt = console_format or early_logging("FORMAT", "auto")
    if fmt == "auto":
        # A person at a terminal reads text; docker logs, cron mail and files get JSON lines.
        fmt = "text" if sys.stderr.isatty() else "json"
    level = level or early_logging("LEVEL", "INFO")
    root = logging.getLogger()
    for old in _ours("console"):
        root.removeHandler(old)
    handler = _handler_tag(logging.StreamHandler(), "console")
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("luigi", "luigi-interface"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger(noisy).level, logging.WARNING))


def configure_from_settings() -> Path | None:
    """Apply the ``logging`` section: level, console format, and the rotating log file.

    Returns the log file path (None when disabled). Safe to call again after settings change.
    """
    from pipeline.settings import get_settings, logging_settings

    cfg = logging_settings()
    setup_logging(cfg.level, cfg.console_format)
    root = logging.getLogger()
    for old in _ours("file"):
        root.removeHandler(old)
        old.close()
    if not cfg.file:
        return None
    path = Path(cfg.file)
    if not path.is_absolute():
        path = get_settings().paths.data_dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=cfg.max_bytes, backupCount=cfg.backup_count, encoding="utf-8"
    )
    _handler_tag(handler, "file").setFormatter(JsonFormatter())
    root.addHandler(handler)
    return path


def _under_luigi_binary() -> bool:
    """Whether this process is ``luigi`` (the console script or ``python -m luigi``)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return argv0.name == "luigi" or (argv0.name == "__main__.py" and argv0.parent.name == "luigi")


def setup_for_luigi_cli() -> Path | None:
    """``luigi --module pipeline.tasks ...``: the same handlers as a ``music-tracker`` run.

    Called when ``pipeline.tasks`` is imported. Only under the ``luigi`` binary and only when
    nothing configured our handlers yet (``music-tracker`` configures them in ``main()``, tests
    and ``luigi.build`` callers keep theirs). Luigi is told not to add its own, unredacted
    console handler (``[core] no_configure_logging``), and keeps INFO for ``luigi-interface``
    so its execution summary still prints. Returns the log file (None when disabled).
    """
    if not _under_luigi_binary() or _ours("console") or _ours("file"):
        return None
    import luigi.configuration

    config = luigi.configuration.get_config()
    if not config.has_section("core"):
        config.add_section("core")
    config.set("core", "no_configure_logging", "true")
    setup_logging()
    path: Path | None = None
    try:
        path = configure_from_settings()
    except Exception as exc:  # noqa: BLE001 - a bad setting must still leave a console log
        logging.getLogger(__name__).error("logging: could not apply the settings: %s", exc)
    logging.getLogger("luigi-interface").setLevel(logging.INFO)
    return path
