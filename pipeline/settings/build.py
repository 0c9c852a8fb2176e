"""Build a section's frozen dataclass from its YAML mapping, checking every key and type.

A missing, unknown or ill-typed setting raises SettingsError with its dotted name
(``dbt.target: missing setting``), because a typo in a YAML file should stop the run, not
silently fall back to a default. Relative ``Path`` values resolve against ``root``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.settings.schema import Settings, SettingsError

# YAML keys that are Python keywords map to a trailing-underscore field name.
RENAMES = {"import": "import_"}


def _is_address(attr: str) -> bool:
    """Settings holding a web address, by name: ``url``, ``*_url``, ``*_uri``."""
    return attr == "url" or attr.endswith(("_url", "_uri"))


def address_problem(value: Any) -> str | None:
    """Why ``value`` is not an http(s) address with a host, or None.

    Without a scheme (``gotify.local/message``, ``192.168.1.5:3000``) the HTTP library raised
    at the first call, mid-run: a notification that crashed the cron run it reported on.
    """
    from urllib.parse import urlsplit

    text = str(value)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"{text!r} is not a web address ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname or text != text.strip():
        return f"{text!r} is not an http:// or https:// address with a host"
    return None


def _not_negative(value: int | float, name: str) -> int | float:
    """Every number in the settings is a count, a size, a duration or a limit: none is
    negative (``dedupe.match_window_seconds: -1`` matched nothing, a negative budget asked
    nothing, silently). Settings with a larger floor check it where they are read."""
    if value < 0:
        raise SettingsError(f"{name}: must be 0 or more, got {value!r}")
    return value


def _coerce(value: Any, hint: Any, name: str, root: Path) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], name, root)
    if dataclasses.is_dataclass(hint):
        if value is None:
            value = {}  # a section with every key commented out: report the missing keys
        if not isinstance(value, Mapping):
            raise SettingsError(f"{name}: expected a mapping, got {type(value).__name__}")
        return build(hint, value, name, root)  # type: ignore[arg-type]
    if origin is list:
        if not isinstance(value, list):
            raise SettingsError(f"{name}: expected a list, got {type(value).__name__}")
        return [_coerce(v, args[0], f"{name}[{i}]", root) for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise SettingsError(f"{name}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{name}: expected a path, got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (root / path)
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{name}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name}: expected a whole number, got {value!r}")
        return _not_negative(value, name)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{name}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise SettingsError(f"{name}: expected a finite number, got {value!r}")
        return float(_not_negative(value, name))
    if hint is str:
        if isinstance(value, bool) or value is None or isinstance(value, Mapping | list):
            raise SettingsError(f"{name}: expected text, got {value!r}")
        return str(value)
    return value


def build(cls: type[Any], data: Mapping[str, Any], prefix: str, root: Path) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in data.items():
        attr = RENAMES.get(key, key)
        dotted = f"{prefix}.{key}" if prefix else key
        if attr not in fields or attr in ("env", "extra"):
            if cls is Settings:
                continue  # the sections read through section() land in `extra`
            raise SettingsError(f"{dotted}: unknown setting (typo?)")
        kwargs[attr] = _coerce(value, hints[attr], dotted, root)
        if _is_address(attr) and (kwargs[attr] or fields[attr].default != ""):
            problem = address_problem(kwargs[attr])
            if problem:
                raise SettingsError(f"{dotted}: {problem}")
        seen.add(attr)
    for name, f in fields.items():
        if name in seen or name in ("env", "extra"):
            continue
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default:
            key = next((k for k, v in RENAMES.items() if v == name), name)
            raise SettingsError(f"{prefix + '.' if prefix else ''}{key}: missing setting")
    return cls(**kwargs)
