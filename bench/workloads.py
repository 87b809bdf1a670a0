"""The workloads (request bodies, counts, connections) and the two iris model directories they are served from."""

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

import model_format
from bench.servers import REPO_ROOT

PLAIN, PROBA = "plain", "proba"
BIG_ROWS = 100_000
"""Bodies this large (2.2 MB) are sent by the Python client, a few at a time, not by wrk."""


@dataclass(frozen=True)
class Workload:
    """``count`` POSTs of a ``rows``-row body per repetition over ``connections`` connections (``warmup`` unmeasured
    first); ``model`` says which server flavour answers it (the plain SVC, or the calibrated one with predict_proba)."""

    name: str
    title: str
    rows: int
    count: int
    connections: int
    warmup: int
    model: str = PLAIN


def workloads(quick: bool) -> list[Workload]:
    """The issue's five workloads; ``quick`` keeps every one but with smoke-test counts."""
    if quick:
        counts = {"seq": 40, "par": 48, "batch": 6, "proba": 6, "big": 1, "warm1": 8, "warmb": 2, "warmbig": 0}
    else:
        counts = {"seq": 2000, "par": 3200, "batch": 300, "proba": 300, "big": 3}
        counts |= {"warm1": 100, "warmb": 20, "warmbig": 1}
    return [
        Workload("seq1", "1 row, sequential, 1 connection", 1, counts["seq"], 1, counts["warm1"]),
        Workload("par8", "1 row, 8 connections", 1, counts["par"], 8, counts["warm1"]),
        Workload("batch1000", "1000-row batches, sequential", 1000, counts["batch"], 1, counts["warmb"]),
        Workload("big100k", "100 000-row requests, sequential", BIG_ROWS, counts["big"], 1, counts["warmbig"]),
        Workload("proba1000", "predict_proba, 1000-row batches", 1000, counts["proba"], 1, counts["warmb"], PROBA),
    ]


def iris_rows(n: int, seed: int = 0) -> list[list[float]]:
    """``n`` iris rows drawn with replacement (seed fixed, so every server gets the same bytes); n=1 is row 0."""
    data = load_iris().data
    if n == 1:
        return data[:1].tolist()
    return data[np.random.default_rng(seed).integers(0, len(data), n)].tolist()


def write_bodies(target: Path, work: list[Workload], keys: tuple[str, ...] = ("data",)) -> dict[str, dict[str, Path]]:
    """Write each workload's body ``{key: [[...], ...]}`` into ``target`` for every top-level ``key`` ("data" for
    Azure entry scripts, "inputs" for MLflow); returns key → workload name → file. Same rows for every key."""
    files: dict[str, dict[str, Path]] = {key: {} for key in keys}
    for w in work:
        rows = iris_rows(w.rows)
        for key in keys:
            path = target / f"{w.name}.{key}.json"
            path.write_text(json.dumps({key: rows}))
            files[key][w.name] = path
    return files


def write_model_dirs(target: Path) -> dict[str, Path]:
    """The plain and the calibrated iris SVC, written by tests/conftest.py's ``write_iris_model_dir`` (the team's
    shared fixture writer, so the benchmark serves exactly the model the tests serve)."""
    spec = importlib.util.spec_from_file_location("bench_iris_fixture", REPO_ROOT / "tests" / "conftest.py")
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)
    return {
        PLAIN: fixture.write_iris_model_dir(target / "sklearn-iris" / "1"),
        PROBA: fixture.write_iris_model_dir(target / "sklearn-iris-proba" / "1", probability=True),
    }


def load_verified(model_dir: Path):
    """Load the model file (``model_format.load``) only after model.json is valid and the file's sha256 matches it.

    Raises:
        model_format.ModelDirError: (a ValueError) model.json is invalid or the hash differs from the sidecar's.
    """
    return model_format.load(model_dir, model_format.read_sidecar(model_dir))
