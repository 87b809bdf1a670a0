"""Issue 7, start-up faults: init() raising, a missing model file, a corrupt model file, an invalid model.json, a
sha256 mismatch, no model directory; issue 14: a model file linking outside its model directory. The service must
refuse to start with a non-zero exit status and one clear, timestamped error line naming the cause (a usage error:
one ``python -m service: error:`` line, exit 2).

Already covered elsewhere (not repeated): tests/service/test_server.py checks a tampered model in the flat layout
(exit 3, one "Refusing to start" line) and init() raising in a worker (exit 3, "Worker failed to boot").
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_helpers import SCRIPTS, Server

pytestmark = pytest.mark.slow
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [EC] \[\d+\] ")
# The one line names the script, the exception type and its message (scripts/init_raises.py).
INIT_RAISES = ("Refusing to start: init() in init_raises.py raised RuntimeError: init-raises-detail: the model store",)


@dataclass(frozen=True)
class Refusal:
    """A broken start-up: how to build it, and text that a log line naming the cause must hold."""

    id: str
    cause: tuple[str, ...]
    log_record: bool = True


REFUSALS = [
    Refusal("missing-model-file", ("model.joblib", "No such file")),
    Refusal("invalid-model-json", ("model.json", "JSON")),
    Refusal("sha256-mismatch-azure-layout", ("sha256", "model.joblib")),
    # Issue 14: the sha256 matches, but the file lives outside the model directory.
    Refusal("model-file-links-outside", ("model.joblib", "outside the model directory")),
    Refusal("corrupt-model-with-matching-sha256", ("model.joblib", "could not be loaded", "ModelDirError")),
    Refusal("init-raises", INIT_RAISES),
    Refusal("init-raises-with-preload", INIT_RAISES),
    # A usage error: the launcher's one-line CLI message (exit 2), not a log record.
    Refusal("no-code-without-model-dir", ("python -m service: error:", "AZUREML_MODEL_DIR"), log_record=False),
]


def _arguments(case_id: str, model_dir: Path, tmp: Path) -> tuple[list[str], dict[str, str]]:
    """The flags and environment of one broken start-up, with its broken copy of the model directory in ``tmp``."""
    broken = tmp / "model"
    if case_id == "sha256-mismatch-azure-layout":
        broken = tmp / "models"
        shutil.copytree(model_dir, broken / "iris" / "3")
        with open(broken / "iris" / "3" / "model.joblib", "ab") as fh:
            fh.write(b"\0")
        return ["--model_dir", str(broken)], {}
    if case_id.startswith("init-raises"):
        env = {"WORKER_PRELOAD": "true"} if case_id.endswith("preload") else {}
        return ["--entry_script", str(SCRIPTS / "init_raises.py")], env
    if case_id == "no-code-without-model-dir":
        return [], {"AZUREML_MODEL_DIR": ""}
    shutil.copytree(model_dir, broken)
    if case_id == "missing-model-file":
        (broken / "model.joblib").unlink()
    elif case_id == "invalid-model-json":
        (broken / "model.json").write_text('{"format": 1, "model_file": ')
    elif case_id == "model-file-links-outside":
        shutil.move(broken / "model.joblib", tmp / "model.joblib")
        (broken / "model.joblib").symlink_to(tmp / "model.joblib")
    elif case_id == "corrupt-model-with-matching-sha256":
        (broken / "model.joblib").write_bytes(b"not a joblib pickle")
        sidecar = json.loads((broken / "model.json").read_text())
        sidecar["sha256"] = hashlib.sha256(b"not a joblib pickle").hexdigest()
        (broken / "model.json").write_text(json.dumps(sidecar))
    return ["--model_dir", str(broken)], {}


@pytest.fixture(scope="module", params=REFUSALS, ids=[r.id for r in REFUSALS])
def refused(request, iris_model_dir, tmp_path_factory):
    """(case, exit status, output) of one broken start-up, run once for both tests below."""
    case = request.param
    args, env = _arguments(case.id, iris_model_dir, tmp_path_factory.mktemp(case.id))
    server = Server(*args, env=env)
    try:
        status = server.wait_exit()
    finally:
        output = server.stop()
    print(f"\nsummary refusal {case.id}: exit status {status}")
    return case, status, output


def test_broken_start_up_exits_non_zero_naming_the_cause(refused):
    case, status, output = refused
    assert status != 0
    assert any(all(part in line for part in case.cause) for line in output.splitlines()), output[-3000:]
    assert not re.search(r" azmlinfsrv - [A-Z]+ /", output), "a request was served"


def test_one_error_line_names_the_cause(refused):
    case, _, output = refused
    naming = [
        line
        for line in output.splitlines()
        if (LOG_LINE.match(line) or not case.log_record) and all(part in line for part in case.cause)
    ]
    assert len(naming) == 1, output[-3000:]
