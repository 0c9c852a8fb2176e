"""Every DuckDB connection the pipeline opens for work is capped by ``duckdb.task_memory_limit``.

A bare ``duckdb.connect()`` may take 80% of the machine's RAM: in the 400 MB container, the
import's summary opened one after dbt and was OOM-killed at 1M plays (measured). The only bare
connections allowed are the capping helper itself and the views-only file the publish writes.
"""

from __future__ import annotations

import ast
from pathlib import Path

PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"
#: Modules allowed to call ``duckdb.connect`` directly, and why.
ALLOWED = {
    "io/duck.py": "the capping helper",
    "reporting.py": "writes a file of views only, no data",
}


def _bare_connects(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "connect"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "duckdb"
    ]


def test_no_uncapped_duckdb_connection() -> None:
    """No module but the helper opens an uncapped DuckDB connection."""
    found = {
        f"{path.relative_to(PIPELINE)}:{line}"
        for path in PIPELINE.rglob("*.py")
        if str(path.relative_to(PIPELINE)) not in ALLOWED
        for line in _bare_connects(path)
    }
    assert not found, f"uncapped duckdb.connect() (use pipeline.io.duck.connect): {sorted(found)}"


def test_work_connections_spill_into_the_lake(data_dir: Path) -> None:
    """A capped connection spills under the lake's state/, never into the working directory."""
    from pipeline.io.duck import connect
    from pipeline.paths import lake

    con = connect()
    try:
        (folder,) = con.execute("select current_setting('temp_directory')").fetchone()
    finally:
        con.close()
    assert Path(folder) == lake().spill_dir
    assert Path(folder).is_relative_to(data_dir)
