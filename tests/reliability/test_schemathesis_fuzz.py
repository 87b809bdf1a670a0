"""Issue 7, schema fuzzing: schemathesis (stateless: examples, coverage and fuzzing phases, bounded examples, fixed
seed) against the service's own ``/swagger.json?version=3``, with auth on. No server errors, and every response
conforms to the document (status, content type, headers, body schema).

The document is the reference's, byte for byte, so it inherits the reference's gaps; the strict xfail below lists
them and turns green (XPASS fails) once the service owners tighten the document.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_helpers import Server, iris_args

pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install schemathesis==4.32.5)")
pytestmark = pytest.mark.slow
KEY = "schemathesis-key"
RESPONSE_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
    "response_schema_conformance"
)
MAX_EXAMPLES = 100


@pytest.fixture(scope="module")
def fuzz_target(iris_proba_model_dir):
    with Server(*iris_args(iris_proba_model_dir, script=None), env={"SCORING_API_KEY": KEY}) as server:
        yield server.wait_ready()


def _schemathesis(server: Server, cwd: Path, *args: str) -> tuple[int, str]:
    cli = Path(sys.executable).with_name("schemathesis")
    argv = [
        str(cli),
        "run",
        f"{server.url}/swagger.json?version=3",
        "--header",
        f"Authorization: Bearer {KEY}",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "1",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--continue-on-failure",
        "--no-color",
        *args,
    ]
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def _summary(output: str) -> str:
    counts = re.search(r"\d+ generated.*", output)
    return counts.group(0) if counts else "no summary"


def test_no_server_errors_and_responses_conform(fuzz_target, tmp_path):
    # GET / is left out: its document says text/plain, the service answers text/html like the reference (see below).
    status, output = _schemathesis(fuzz_target, tmp_path, "--checks", RESPONSE_CHECKS, "--exclude-path", "/")
    print(f"\nsummary schemathesis response checks: {_summary(output)}")
    assert status == 0, output[-4000:]
    assert "Tested: 1" in output or "Tested: 2" in output, output[-2000:]


@pytest.mark.xfail(
    strict=True,
    reason="the reference-identical swagger under-specifies the service: GET / is documented as text/plain and "
    "protected by Bearer (it is text/html and open), GET /score is undocumented, and ServiceInput neither requires "
    "'data' nor bounds its rows, so {} and [[]] are schema-valid yet 400: reported to the service owners",
)
def test_every_schemathesis_check_passes(fuzz_target, tmp_path):
    status, output = _schemathesis(fuzz_target, tmp_path, "--checks", "all")
    print(f"\nsummary schemathesis all checks: {_summary(output)}")
    assert status == 0, output[-4000:]
