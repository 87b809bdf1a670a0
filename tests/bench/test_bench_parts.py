"""The harness's parts against real processes: load clients (wrk and Python) on a real gunicorn that closes every
connection, /proc accounting, the compute floor, the sha256 check, and the report arithmetic."""

import importlib.util
import json
import shutil
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest

from bench import mlflow_peer, procstat, report
from bench.compute_floor import score_once
from bench.measure import run_python
from bench.servers import REPO_ROOT, RunningServer, ServerSpec
from bench.workloads import iris_rows, load_verified
from bench.wrk import run_wrk
from model_format import ModelDirError

BODY = json.dumps({"data": iris_rows(1)}).encode()


@pytest.fixture(scope="module")
def closing_server(tmp_path_factory):
    """The HTTP floor app on gunicorn's sync worker, which answers every request with Connection: close."""
    spec = ServerSpec(
        "floor-sync",
        "floor-sync",
        "test",
        (sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "bench.floor_app:app"),
        "/",
    )
    with RunningServer(spec, tmp_path_factory.mktemp("logs")) as server:
        yield server


def test_python_client_reconnects_after_connection_close(closing_server):
    result = run_python(closing_server.url, "/score", BODY, total=30, connections=3, time_limit=60)
    assert (result.requests, result.non200, result.error_count) == (30, 0, 0)
    assert result.p50_ms <= result.p90_ms <= result.p99_ms


def test_python_client_counts_non_200(closing_server):
    result = run_python(closing_server.url, "/missing", BODY, total=5, connections=1, time_limit=60)
    assert (result.requests, result.non200) == (5, 5)
    assert result.first_non200.startswith("404 ")


def test_python_client_counts_refused_connections():
    spec_port = RunningServer(ServerSpec("x", "x", "x", ("true",)), REPO_ROOT).port  # a free port nobody serves
    result = run_python(f"http://127.0.0.1:{spec_port}", "/score", BODY, total=3, connections=1, time_limit=60)
    assert result.requests == 0 and result.errors["read"] == 3


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_wrk_stops_at_the_count_and_reconnects(closing_server, tmp_path):
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    result = run_wrk(shutil.which("wrk"), closing_server.url, "/score", body, total=40, connections=4, time_limit=60)
    assert (result.requests, result.non200, result.error_count) == (40, 0, 0)
    assert 0 < result.duration_s < 60  # ended by the count, not by wrk's -d bound
    missing = run_wrk(shutil.which("wrk"), closing_server.url, "/missing", body, total=4, connections=1, time_limit=60)
    assert missing.non200 == 4
    assert missing.first_non200.startswith("404 ") and "Not Found" in missing.first_non200


def test_server_accounting_sees_master_and_worker(closing_server):
    pids = closing_server.pids()
    assert pids[0] == closing_server.proc.pid and len(pids) == 2
    memory = closing_server.memory()
    assert memory["workers"] == 1 and memory["total_rss_mb"] > memory["master_rss_mb"] > 0
    before = closing_server.cpu_seconds()
    run_python(closing_server.url, "/score", BODY, total=200, connections=1, time_limit=60)
    assert closing_server.cpu_seconds() > before


def test_stop_ends_the_whole_session(tmp_path):
    spec = ServerSpec(
        "f",
        "f",
        "f",
        (sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "2", "bench.floor_app:app"),
        "/",
    )
    server = RunningServer(spec, tmp_path)
    server.start()
    deadline = time.monotonic() + 60  # the second worker may still be booting when the first answers
    while len(pids := procstat.session_pids(server.proc.pid)) != 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pids) == 3
    server.stop()
    assert procstat.session_pids(pids[0]) == []


def test_start_failure_reports_the_log(tmp_path):
    spec = ServerSpec("broken", "broken", "b", (sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"))
    with pytest.raises(Exception, match=r"broken exited with status 3:\n.*boom"):
        RunningServer(spec, tmp_path).start()


def test_compute_floor_matches_the_model(iris_proba_model_dir):
    model = load_verified(iris_proba_model_dir)
    body = json.dumps({"data": iris_rows(20)}).encode()
    assert json.loads(score_once(model, body, "predict")) == model.predict(iris_rows(20)).tolist()
    assert len(json.loads(score_once(model, body, "predict_proba"))[0]) == 3
    with pytest.raises(ValueError, match=r"expected a 2-D matrix with 4 columns, got shape \(1, 3\)"):
        score_once(model, b'{"data": [[1, 2, 3]]}', "predict")


def test_load_verified_refuses_a_tampered_model(iris_model_dir, tmp_path):
    shutil.copytree(iris_model_dir, tmp_path / "m")
    joblib.dump({"not": "the model"}, tmp_path / "m" / "model.joblib")
    with pytest.raises(ValueError, match="model.joblib has sha256 .*, but model.json expects"):
        load_verified(tmp_path / "m")


def _other_format(model_dir, target):
    """A copy of ``model_dir`` whose model.json says format 3 (the model file and its sha256 unchanged)."""
    shutil.copytree(model_dir, target)
    sidecar = json.loads((target / "model.json").read_text())
    (target / "model.json").write_text(json.dumps({**sidecar, "format": 3}))
    return target


def test_load_verified_refuses_a_sidecar_the_contract_refuses(iris_model_dir, tmp_path):
    with pytest.raises(ModelDirError, match="has format 3, but this version reads formats 1 and 2"):
        load_verified(_other_format(iris_model_dir, tmp_path / "m"))


def test_proba_entry_script_checks_the_model_directory_with_model_format(
    iris_model_dir, iris_proba_model_dir, tmp_path, monkeypatch
):
    spec = importlib.util.spec_from_file_location("bench_proba_score", REPO_ROOT / "bench" / "proba_score.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(_other_format(iris_model_dir, tmp_path / "m")))
    with pytest.raises(ModelDirError, match="has format 3"):
        script.init()
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(iris_proba_model_dir))
    script.init()
    assert len(script.run(np.array(iris_rows(2)))[0]) == 3


MLFLOW_PYTHON = mlflow_peer.VENV / "bin" / "python"


@pytest.mark.skipif(not MLFLOW_PYTHON.exists(), reason="no .venv-mlflow (python -m bench --with-mlflow builds it)")
def test_mlflow_model_refuses_a_sidecar_the_contract_refuses_with_status_2(iris_model_dir, tmp_path):
    argv = [str(MLFLOW_PYTHON), "-m", "bench.mlflow_model"]
    done = subprocess.run(
        [*argv, str(_other_format(iris_model_dir, tmp_path / "m")), str(tmp_path / "out")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "has format 3, but this version reads formats 1 and 2" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def _rep(rep, req_s, cpu_ms=1.0, non200=0):
    return {
        "rep": rep,
        "client": "wrk",
        "requests": 10,
        "req_s": req_s,
        "rows_s": req_s,
        "p50_ms": 1.0,
        "p90_ms": 2.0,
        "p99_ms": 3.0,
        "server_cpu_ms_per_req": cpu_ms,
        "client_cpu_ms_per_req": 0.1,
        "foreign_cpu_pct": 0.0,
        "non200": non200,
        "errors": 0,
        "first_non200": "503 not ready" if non200 else "",
    }


def test_ratios_pair_repetitions_and_targets_use_their_medians():
    runs = {
        "ours": {"seq1": [_rep(1, 300, 0.5), _rep(2, 900, 0.5), _rep(3, 1000, 0.4)]},
        "reference": {"seq1": [_rep(1, 100, 1.0), _rep(2, 600, 1.5), _rep(3, 200, 1.6)]},
    }
    table = report.ratios(runs)
    assert table["ours/reference seq1 req_s"]["per_rep"] == [3.0, 1.5, 5.0]
    assert table["ours/reference seq1 req_s"]["median"] == 3.0
    assert table["ours/reference seq1 req_s"]["cpu_median"] == 3.0  # 2.0, 3.0, 4.0: the reference's CPU / ours
    assert report.summarize(runs)["ours"]["seq1"]["req_s"] == 900
    instances = {"ours": {"cold_start_s": [2.0, 3.0, 2.5]}, "reference": {"cold_start_s": [2.4, 2.4, 2.4]}}
    targets = {t["key"]: t for t in report.evaluate_targets(table, instances)}
    assert targets["ours/reference seq1 req_s"]["met"] is True
    assert targets["ours/reference par8 req_s"]["met"] is None
    assert targets["cold_start ours/reference"]["met"] is False
    cpu = targets["ours/reference seq1 req_s cpu"]  # ours / the reference's CPU per request, at most 0.65
    assert (round(cpu["value"], 3), cpu["met"]) == (0.333, True)
    assert targets["ours/floor-score seq1 req_s cpu"]["met"] is None


def test_repetitions_with_failed_requests_are_counted_but_not_measured():
    runs = {
        "ours": {"seq1": [_rep(1, 5000, non200=10), _rep(2, 900), _rep(3, 1000)]},
        "reference": {"seq1": [_rep(2, 300), _rep(3, 500)]},  # its rep 1 did not start
    }
    summary = report.summarize(runs)["ours"]["seq1"]
    assert (summary["req_s"], summary["valid_reps"], summary["non200"]) == (950, 2, 10)
    assert summary["first_non200"] == "503 not ready"
    assert report.ratios(runs)["ours/reference seq1 req_s"]["per_rep"] == [3.0, 2.0]


def test_cli_rejects_bad_arguments_with_status_2():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--reps", "0"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--reps: expected a positive integer, got 0" in done.stderr


def test_a_server_that_never_gets_ready_is_stopped(tmp_path):
    spec = ServerSpec("silent", "silent", "s", (sys.executable, "-c", "import time; time.sleep(120)"))
    server = RunningServer(spec, tmp_path, ready_timeout=1.0)
    with pytest.raises(Exception, match="silent was not ready on GET / within 1 s"):
        server.start()
    assert server.proc.poll() is not None


def test_load_times_measures_both_formats_of_both_models(capsys):
    from bench import load_times

    assert load_times.main(["--rounds", "1"]) == 0
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [row[0].strip() for row in rows[1:]] == ["iris SVC (linear)", "random forest, 100 trees"]
    for row in rows[1:]:
        figures = [float(cell) for cell in row[1:]]
        assert len(figures) == 7 and all(value > 0 for value in figures)
    with pytest.raises(SystemExit) as bad:
        load_times.main(["--rounds", "0"])
    assert bad.value.code == 2
