"""Run mypy and pyright on check_models.py (the types an editor shows of models and queries,
and the mistakes it must report), when the lint extra has installed them.

This folder has no ``__init__.py`` on purpose: a package named ``typing`` under tests/ would
shadow the standard library in any process started with tests/ on its path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = "tests/typing/check_models.py"


def _tool(name):
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def _run(args):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)


def test_mypy_shows_the_documented_types_and_reports_each_mistake():
    mypy = _tool("mypy")
    if mypy is None:
        pytest.skip("mypy is not installed (pip install -e '.[lint]')")
    # pyproject.toml's settings: strict, and warn_unused_ignores, so a mistake in the file
    # that mypy stops reporting leaves an unused "type: ignore" and fails the run.
    result = _run([mypy, CHECKED])
    assert result.returncode == 0, result.stdout + result.stderr


def test_pyright_shows_the_documented_types_and_reports_each_mistake():
    pyright = _tool("pyright")
    if pyright is None:
        pytest.skip("pyright is not installed (pip install -e '.[lint]')")
    result = _run([pyright, "--pythonpath", sys.executable, CHECKED])
    if result.returncode != 0 and "errors" not in result.stdout:
        pytest.skip(f"pyright could not run here: {result.stdout[-500:]}{result.stderr[-500:]}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout
