"""The compute floor: parse + convert + predict + serialise of the very bodies the servers get, in this process,
with no HTTP, no framework and no validation beyond the shape check a scorer cannot skip."""

import time

import numpy as np
import orjson

from bench.measure import LoadResult


def score_once(model, body: bytes, method: str) -> bytes:
    """What any scoring server must do at least: JSON → float64 matrix → ``model.<method>`` → JSON.

    Raises:
        ValueError: the body's ``data`` is not a 2-D matrix with the model's feature count.
    """
    matrix = np.asarray(orjson.loads(body)["data"], dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != model.n_features_in_:
        raise ValueError(f"expected a 2-D matrix with {model.n_features_in_} columns, got shape {matrix.shape}")
    return orjson.dumps(getattr(model, method)(matrix), option=orjson.OPT_SERIALIZE_NUMPY)


def run_in_process(model, body: bytes, count: int, warmup: int, method: str = "predict") -> LoadResult:
    """Score ``body`` ``count`` times after ``warmup`` unmeasured calls; CPU time goes into ``client_cpu_s``."""
    for _ in range(warmup):
        score_once(model, body, method)
    latencies = np.empty(count)
    cpu_before = time.process_time()
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        score_once(model, body, method)
        latencies[i] = time.perf_counter() - t0
    duration = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    lat_ms = latencies * 1000
    return LoadResult(
        client="in-process",
        requests=count,
        non200=0,
        duration_s=duration,
        p50_ms=float(np.percentile(lat_ms, 50)),
        p90_ms=float(np.percentile(lat_ms, 90)),
        p99_ms=float(np.percentile(lat_ms, 99)),
        client_cpu_s=cpu,
    )
