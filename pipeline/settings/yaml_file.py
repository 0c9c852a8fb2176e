"""Read one YAML file a person edits (``config/*.yaml``, ``dashboards.yaml``) into its data.

Read as bytes so PyYAML honours a byte-order mark: Windows editors save "Unicode" as UTF-16
with one, and a Latin-1 file (a "ü" in an account's name) must be named, not raise a
``UnicodeDecodeError`` traceback at every command's start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """The file cannot be read as YAML; the message names the file and, where known, the line."""


def read_yaml(path: Path) -> Any:
    """The file's data (``None`` when empty); ``YamlFileError`` for anything else."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlFileError(f"cannot read {path} ({exc.strerror or exc})") from exc
    try:
        return yaml.safe_load(raw)
    except yaml.reader.ReaderError as exc:
        char = exc.character
        shown = f"0x{char:02x}" if isinstance(char, int) else repr(char)
        raise YamlFileError(
            f"{path.name} is not UTF-8 (or UTF-16 with its byte-order mark) text: byte "
            f"{exc.position} is {shown}"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlFileError(f"{path.name} is not valid YAML{at}: {problem}") from exc
