"""Fixtures for the warehouse tests: each module gets a lake folder of its own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def module_lake(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """An empty lake folder of the module's own."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "data"
    root.mkdir()
    return root
