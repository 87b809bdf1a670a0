"""The other protocols of no-code scoring (issue 13) beside /score: the same rows sent to /score, to the V2 infer
route and to MLflow's /invocations of three identical no-code servers, so each protocol's server CPU per request
compares with /score's (target: within 1.2x)."""

import json
import sys
from pathlib import Path

from bench.report import cpu_at_most
from bench.servers import ServerSpec
from bench.workloads import PLAIN, Workload, iris_rows

WORKLOADS = ("seq1", "batch1000")
V2_KEY = "v2"
MLFLOW_KEY = "mlflow-inputs"
MAX_CPU_RATIO = 1.2


def protocol_specs(models: dict[str, Path]) -> list[ServerSpec]:
    """The no-code service (no --entry_script) on the plain iris model, once per protocol."""
    argv = (
        sys.executable,
        "-m",
        "service",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--model_dir",
        str(models[PLAIN]),
    )
    name = models[PLAIN].parent.name  # the <name>/<version>/ layout names the model
    return [
        ServerSpec("nocode", "nocode", "no-code scoring, /score", argv, "/health/ready", {}, WORKLOADS),
        ServerSpec(
            "nocode-v2",
            "nocode-v2",
            "no-code scoring, V2 infer",
            argv,
            "/health/ready",
            {},
            WORKLOADS,
            f"/v2/models/{name}/infer",
            V2_KEY,
        ),
        ServerSpec(
            "nocode-mlflow",
            "nocode-mlflow",
            "no-code scoring, MLflow /invocations",
            argv,
            "/health/ready",
            {},
            WORKLOADS,
            "/invocations",
            MLFLOW_KEY,
        ),
    ]


def write_bodies(target: Path, work: list[Workload]) -> dict[str, dict[str, Path]]:
    """The same rows as ``bench.workloads.write_bodies`` as one flat FP64 V2 tensor, and under MLflow's ``inputs``."""
    files: dict[str, dict[str, Path]] = {V2_KEY: {}, MLFLOW_KEY: {}}
    for w in work:
        if w.name not in WORKLOADS:
            continue
        rows = iris_rows(w.rows)
        tensor = {"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64"}
        tensor["data"] = [v for row in rows for v in row]
        for key, body in ((V2_KEY, {"inputs": [tensor]}), (MLFLOW_KEY, {"inputs": rows})):
            path = target / f"{w.name}.protocol-{key}.json"
            path.write_text(json.dumps(body))
            files[key][w.name] = path
    return files


def cpu_targets(ratio_table: dict) -> list[dict]:
    """Each protocol's server CPU per request over /score's, same rows, same repetition (median)."""
    return [
        cpu_at_most(
            ratio_table,
            f"{system}/nocode {workload} {metric}",
            MAX_CPU_RATIO,
            f"{system} {workload}: server CPU per request ≤ {MAX_CPU_RATIO}× /score's",
        )
        for system in ("nocode-v2", "nocode-mlflow")
        for workload, metric in (("seq1", "req_s"), ("batch1000", "rows_s"))
    ]
