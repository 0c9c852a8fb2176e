"""dbt's saved parse holds for every lake, and each lake's SQL still names its own files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import settings
from pipeline.paths import lake
from pipeline.warehouse.run import run_dbt
from tests.dbt.harness import lake_at
from tests.ops.conftest import cli_env, run_cli


def _compile_in(root: Path, target: Path) -> tuple[dict, str]:
    """``dbt compile`` of one source-reading view in the lake at ``root``, as a build runs dbt:
    dbt's parse statistics and the view's compiled SQL."""
    root.mkdir(parents=True, exist_ok=True)
    with lake_at(root):
        result = run_dbt(lake(), ["compile", "--select", "stg_pipeline__gaps"])
        assert result.ok, result.summary()
    perf = json.loads((target / "perf_info.json").read_text(encoding="utf-8"))
    compiled = next((target / "compiled").rglob("stg_pipeline__gaps.sql"))
    return perf, compiled.read_text(encoding="utf-8")


def test_a_second_lake_reuses_the_parse_and_reads_its_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first import after the demo (another lake) parsed the whole project again (~3.4 s):
    the DuckDB file's absolute path was a profile value and the lake's path was read in the
    sources' YAML. Now the second lake parses nothing, and its SQL reads its own files by
    their absolute path (a view must read the same from any working directory)."""
    target = tmp_path / "target"
    monkeypatch.setenv("MUSIC_TRACKER__DBT__TARGET_PATH", str(target))
    settings.reload_settings()
    first, first_sql = _compile_in(tmp_path / "lake one", target)
    second, second_sql = _compile_in(tmp_path / "lake 'two'", target)

    assert first["parsed_path_count"] > 100  # no saved parse in this target yet: all of it
    assert second["parsed_path_count"] == 0
    assert "@DATA_DIR@" not in first_sql + second_sql
    assert f"read_parquet('{tmp_path}/lake one/staged/gaps/v1/" in first_sql
    assert f"read_parquet('{tmp_path}/lake ''two''/staged/gaps/v1/" in second_sql


def test_the_images_parse_serves_a_first_build_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``music-tracker _parse`` (the Dockerfile runs it) keeps dbt's saved parse, and a first
    build in a lake elsewhere (the container's /data) starts from it."""
    target = tmp_path / "target"
    env = cli_env(tmp_path / "parse", MUSIC_TRACKER__DBT__TARGET_PATH=str(target))
    made = run_cli(["--data-dir", str(tmp_path / "parse"), "_parse"], env, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    assert (target / "partial_parse.msgpack").is_file()
    monkeypatch.setenv("MUSIC_TRACKER__DBT__TARGET_PATH", str(target))
    settings.reload_settings()
    perf, sql = _compile_in(tmp_path / "data", target)
    assert perf["parsed_path_count"] == 0
    assert f"read_parquet('{tmp_path}/data/staged/gaps/v1/" in sql
