"""ruff and mypy pass on the project's own settings (pyproject.toml), so CI checks them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_check_is_clean():
    r = _run("ruff", "check", ".", "--output-format", "concise")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_mypy_is_clean():
    r = _run("mypy")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
