"""The extra venvs some tests run code in (import as `venv_helpers`), built by the repository's scripts/*-venv.sh."""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def venv_python(script: str, what: str) -> Path:
    """Run ``scripts/<script>`` (it creates the venv once) and return its python; skip visibly, naming ``what``, only
    when the package index is unreachable (exit 3)."""
    result = subprocess.run(["bash", str(REPO / "scripts" / script)], capture_output=True, text=True)
    if result.returncode == 3:
        pytest.skip(f"{what} venv unavailable: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])
