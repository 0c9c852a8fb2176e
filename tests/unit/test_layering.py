"""The layering rules of pipeline/, read from the source: every import, inside functions too.

- ``clients/`` is HTTP and rate limits: no Luigi, no tasks, no enrichment logic;
- ``transform/`` is pure: no Luigi, no clients, no tasks, no file or DuckDB I/O (``io/``);
- ``enrich/``, ``ingest/`` and ``io/`` are Luigi-free and import no tasks;
- only the CLI, its commands and bench/ import ``pipeline.tasks`` (tests/ may too);
- a module of ``tasks/`` holds Luigi classes only: no module-level functions (``base.py``, the
  helpers every task shares, aside);
- only the ``settings/`` package reads the environment or ``config/``;
- no import cycles among pipeline's packages.

A rule the code cannot meet yet is a named exception below, with its reason, so any *new*
violation fails; remove an exception when its reason goes away (the test says so).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipeline"

#: (folder under pipeline/, modules it must not import: the module or anything under it).
FORBIDDEN: list[tuple[str, tuple[str, ...]]] = [
    ("clients", ("luigi", "pipeline.tasks", "pipeline.enrich")),
    ("transform", ("luigi", "pipeline.clients", "pipeline.tasks", "pipeline.io")),
    ("enrich", ("luigi", "pipeline.tasks")),
    ("ingest", ("luigi", "pipeline.tasks")),
    ("staging", ("luigi", "pipeline.tasks")),
    ("warehouse", ("luigi", "pipeline.tasks")),
    ("reporting.py", ("luigi", "pipeline.tasks")),
    ("io", ("luigi", "pipeline.tasks")),
]

#: Files (relative to the repo) that may import ``pipeline.tasks``; folders end in "/".
TASKS_IMPORTERS = ("pipeline/tasks/", "pipeline/cli.py", "pipeline/commands/", "bench/")

#: Folders (under the repo) whose imports of ``pipeline.tasks`` are checked: all but tests/.
CHECKED_FOR_TASKS = ("pipeline", "bench")

#: Shared Luigi helpers of tasks/ (the lake, result logging, progress): functions allowed.
TASK_HELPERS = ("pipeline/tasks/base.py",)

#: tasks/ module -> (how many module-level functions it may still define, why).
TASK_FUNCTION_EXCEPTIONS: dict[str, tuple[int, str]] = {
    "pipeline/tasks/warehouse.py": (
        1,
        "whole_suite sets [DbtBuild] full_tests in Luigi's config: the only way to reach the "
        "DbtBuild instances other tasks' requires() create",
    ),
}

#: File -> (how many reads of ``os.environ``/``os.getenv`` it may have, why).
ENV_EXCEPTIONS: dict[str, tuple[int, str]] = {
    "pipeline/__init__.py": (
        1,
        "sets ARROW_DEFAULT_MEMORY_POOL before pyarrow is first imported: an allocator switch "
        "for this process that must precede every other import, not a setting",
    ),
    "pipeline/runner.py": (
        1,
        "ANNOUNCED_ENV is a marker from a parent command to its child (the scheduler was "
        "already announced), not configuration",
    ),
    "pipeline/ops/stage_child.py": (
        1,
        "STAGED_FD_ENV names the pipe a parent command gave its stage child (the child says "
        "its plays are staged on it), not configuration",
    ),
    "pipeline/commands/cron.py": (
        1,
        "the crontab line repeats MUSIC_TRACKER_ENV only when it was set in the environment "
        "(Settings.env cannot tell an explicit 'development' from the default)",
    ),
}

#: File -> (how many ``"config/..."`` paths it may build, why).
CONFIG_EXCEPTIONS: dict[str, tuple[int, str]] = {}

#: The package that reads configuration: files and environment (its modules are not checked).
SETTINGS = PIPELINE / "settings"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, with its line: top level, in functions, under TYPE_CHECKING.

    ``from a import b`` yields ``a`` and ``a.b`` (b may be a submodule); relative imports are
    resolved against the file's package.
    """
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _sources(root: Path = PIPELINE) -> list[Path]:
    """The Python files of a folder, or the file itself (a stage that is one module)."""
    return [root] if root.is_file() else sorted(root.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def forbidden_imports(root: Path = PIPELINE) -> list[str]:
    """``file:line imports module`` for every import that breaks a FORBIDDEN rule."""
    found = []
    for folder, banned in FORBIDDEN:
        for path in _sources(root / folder):
            for line, module in imports(path):
                if any(_under(module, b) for b in banned):
                    found.append(f"{_rel(path)}:{line} imports {module}")
    return sorted(set(found))


def env_reads(path: Path) -> list[int]:
    """Lines of ``path`` that touch ``os.environ``/``os.getenv``/``os.putenv`` (or import them)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "environb", "getenv", "putenv", "unsetenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(a.name in ("environ", "getenv", "putenv") for a in node.names):
                lines.append(node.lineno)
    return lines


def _is_config_path(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value == "config" or node.value.startswith("config/"))
    )


def config_paths(path: Path) -> list[int]:
    """Lines of ``path`` that build a path into config/: ``Path("config/x")``, ``x / "config"``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call) and any(_is_config_path(a) for a in node.args):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("Path", "PurePath", "open", "join"):
                lines.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if _is_config_path(node.right) or _is_config_path(node.left):
                lines.append(node.lineno)
    return lines


def _package_of(module: str) -> str:
    """The node of the package graph: ``pipeline.clients`` for its modules, else the module."""
    return ".".join(module.split(".")[:2])


def package_graph(root: Path = PIPELINE) -> dict[str, set[str]]:
    """Package -> the pipeline packages it imports (any import, anywhere in its modules)."""
    known = {_module_name(p) for p in _sources(root)}
    graph: dict[str, set[str]] = {}
    for path in _sources(root):
        me = _package_of(_module_name(path))
        for _, module in imports(path):
            if module in known and _package_of(module) != me:
                graph.setdefault(me, set()).add(_package_of(module))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


# --- the rules -------------------------------------------------------------------------------


def test_stage_layers_import_only_what_they_may() -> None:
    """clients/: no Luigi, tasks, enrich; transform/ is pure; enrich/, ingest/, io/: no Luigi."""
    assert forbidden_imports() == []


def test_only_the_cli_imports_the_luigi_tasks() -> None:
    """pipeline.tasks is imported only by tasks/ itself, cli.py, commands/ and bench/."""
    offenders = [
        f"{_rel(path)}:{line} imports {module}"
        for folder in CHECKED_FOR_TASKS
        for path in _sources(ROOT / folder)
        if not _rel(path).startswith(TASKS_IMPORTERS)
        for line, module in imports(path)
        if _under(module, "pipeline.tasks")
    ]
    assert sorted(set(offenders)) == []


def module_functions(path: Path) -> list[str]:
    """Names of the functions ``path`` defines at module level (not methods, not nested)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_task_modules_hold_only_luigi_classes() -> None:
    """A tasks/ module defines Luigi classes, not logic: the logic lives in its stage's package."""
    counts = {
        _rel(p): len(module_functions(p))
        for p in _sources(PIPELINE / "tasks")
        if _rel(p) not in TASK_HELPERS
    }
    allowed = {f: n for f, (n, _) in TASK_FUNCTION_EXCEPTIONS.items()}
    over = {f: n for f, n in counts.items() if n > allowed.get(f, 0)}
    assert over == {}, f"module-level functions in tasks/ (move them to the stage): {over}"
    stale = {f for f, n in allowed.items() if counts.get(f, 0) < n}
    assert stale == set(), f"fewer functions than excepted: lower or drop the exception for {stale}"


def _outside_settings() -> list[Path]:
    return [p for p in _sources() if not p.is_relative_to(SETTINGS)]


def test_only_settings_reads_the_environment() -> None:
    """os.environ/getenv appear only in settings/, and in the exceptions as often as listed."""
    counts = {_rel(p): len(env_reads(p)) for p in _outside_settings()}
    over = {f: n for f, n in counts.items() if n > ENV_EXCEPTIONS.get(f, (0, ""))[0] and n}
    assert over == {}, f"new environment reads (go through pipeline.settings): {over}"
    stale = {f for f, (n, _) in ENV_EXCEPTIONS.items() if counts.get(f, 0) < n}
    assert stale == set(), f"fewer reads than excepted: lower or drop the exception for {stale}"


def test_only_settings_reads_config() -> None:
    """No module outside settings/ builds a path into config/ (named exceptions aside)."""
    counts = {_rel(p): len(config_paths(p)) for p in _outside_settings()}
    over = {f: n for f, n in counts.items() if n > CONFIG_EXCEPTIONS.get(f, (0, ""))[0] and n}
    assert over == {}, f"new reads of config/ (go through pipeline.settings): {over}"
    stale = {f for f, (n, _) in CONFIG_EXCEPTIONS.items() if counts.get(f, 0) < n}
    assert stale == set(), f"fewer config/ paths than excepted: update the exception for {stale}"
    assert config_paths(SETTINGS / "loader.py"), "the checker no longer sees the loader's read"


def test_pipeline_packages_have_no_import_cycle() -> None:
    """The package graph (every import, in functions too) has no cycle."""
    graph = package_graph()
    assert "pipeline.tasks" in graph and "pipeline.settings" in graph["pipeline.paths"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


# --- the checker itself, on a tiny fake package ------------------------------------------------


@pytest.fixture
def fake_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pipeline/ with a client that imports Luigi inside a function, and a cycle a -> b -> a."""
    root = tmp_path / "pipeline"
    for folder in ("clients", "transform", "ingest", "a", "b"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "clients" / "web.py").write_text(
        "import os\n\ndef f():\n    import luigi\n    return os.environ.get('X')\n"
    )
    (root / "transform" / "pure.py").write_text("from ..io import duck\nfrom pathlib import Path\n")
    (root / "ingest" / "polls.py").write_text("def h():\n    from pipeline.tasks import base\n")
    (root / "a" / "one.py").write_text("def g():\n    from pipeline.b import two\n")
    (root / "b" / "two.py").write_text("from pipeline.a import one\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    return root


def test_checker_sees_imports_inside_functions_and_relative_ones(fake_pipeline: Path) -> None:
    """A client's Luigi import, ingest's tasks import (in functions), transform's io: caught."""
    assert forbidden_imports(fake_pipeline) == [
        "pipeline/clients/web.py:4 imports luigi",
        "pipeline/ingest/polls.py:2 imports pipeline.tasks",
        "pipeline/ingest/polls.py:2 imports pipeline.tasks.base",
        "pipeline/transform/pure.py:1 imports pipeline.io",
        "pipeline/transform/pure.py:1 imports pipeline.io.duck",
    ]
    assert env_reads(fake_pipeline / "clients" / "web.py") == [5]


def test_checker_finds_a_cycle_through_a_function_level_import(fake_pipeline: Path) -> None:
    """a imports b inside a function, b imports a at the top: that is a cycle."""
    assert find_cycle(package_graph(fake_pipeline)) == ["pipeline.a", "pipeline.b", "pipeline.a"]
