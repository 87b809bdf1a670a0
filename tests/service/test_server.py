"""`python -m service` as a real gunicorn on 127.0.0.1: start-up checks, exit statuses, keep-alive, limits, timeouts,
readiness during init, health while scoring, and metrics summed over two workers."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import threading

import pytest
import requests
from service_helpers import REPO, SCRIPTS, ServiceProcess, clean_env, free_port, wait_for_held_runs

ROW = [5.1, 3.5, 1.4, 0.2]
pytestmark = pytest.mark.slow


def iris_args(model_dir):
    return ["--entry_script", str(SCRIPTS / "iris_score.py"), "--model_dir", str(model_dir)]


@pytest.fixture(scope="module")
def iris_server(iris_model_dir):
    with ServiceProcess.ours(*iris_args(iris_model_dir), env={"MAX_REQUEST_BODY_BYTES": "4096"}) as server:
        yield server.wait_ready()


def test_scores_over_http_with_keep_alive(iris_server):
    connection = http.client.HTTPConnection("127.0.0.1", iris_server.port, timeout=30)
    try:
        for rows, expected in [([ROW], [0]), ([ROW, [6.5, 3.0, 5.5, 1.8]], [0, 2])]:
            connection.request("POST", "/score", json.dumps({"data": rows}), {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read()) == expected
            assert response.getheader("Connection") != "close"
    finally:
        connection.close()


def test_bad_input_is_400_over_http(iris_server):
    response = requests.post(iris_server.url + "/score", json={"data": [[1.0, 2.0, 3.0]]}, timeout=30)
    assert response.status_code == 400
    assert set(response.json()) == {"message", "request_id"}


def test_chunked_post_is_scored(iris_server):
    body = iter([b'{"data": [[5.1, 3.5,', b" 1.4, 0.2]]}"])
    response = requests.post(iris_server.url + "/score", data=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (200, [0])


def test_body_over_the_limit_is_413_over_http(iris_server):
    body = json.dumps({"data": [ROW] * 400})
    response = requests.post(iris_server.url + "/score", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "exceeds the limit of 4096 bytes" in response.json()["message"]
    chunked = requests.post(
        iris_server.url + "/score", data=iter([body.encode()]), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


def test_one_access_line_per_request(iris_server):
    response = requests.get(iris_server.url + "/swagger.json?version=3", headers={"x-request-id": "access-line-1"})
    assert response.status_code == 200
    lines = [line for line in iris_server.output.splitlines() if "access-line-1" in line]
    assert len(lines) == 1
    assert "azmlinfsrv - GET /swagger.json?version=<redacted> 200 " in lines[0]  # query values never logged


def test_health_answers_while_a_run_is_in_progress(tmp_path):
    with ServiceProcess.ours("--entry_script", str(SCRIPTS / "held_run.py")) as server:
        server.wait_ready()
        answers = []
        held = threading.Thread(
            target=lambda: answers.append(requests.post(server.url + "/score", data=str(tmp_path), timeout=90).json())
        )
        held.start()
        try:
            wait_for_held_runs(tmp_path, 1)
            health = [requests.get(server.url + p, timeout=30).status_code for p in ["/health/live", "/", "/metrics"]]
            in_progress = held.is_alive()  # run() cannot return before the release below
        finally:
            (tmp_path / "release").touch()
            held.join(90)
    assert health == [200, 200, 200]
    assert in_progress and answers == ["released"]


def test_scoring_timeout_works_with_threads():
    env = {"SCORING_TIMEOUT_MS": "300"}
    with ServiceProcess.ours("--entry_script", str(SCRIPTS / "slow_run.py"), env=env) as server:
        server.wait_ready()
        response = requests.post(server.url + "/score", data="2", timeout=30)
        assert response.status_code == 504
        assert response.json()["message"] == "Scoring timeout after 300 ms"
        assert requests.post(server.url + "/score", data="0", timeout=30).json() == "slept"


def test_readiness_is_503_during_a_slow_init(tmp_path):
    release = tmp_path / "release"
    env = {"SLOW_INIT_RELEASE": str(release), "SCORING_TIMEOUT_MS": "300"}
    with ServiceProcess.ours("--entry_script", str(SCRIPTS / "slow_init.py"), env=env, ready_path="/health/live") as s:
        s.wait_ready()
        assert requests.get(s.url + "/health/ready", timeout=30).status_code == 503
        assert requests.get(s.url + "/score?data=1", timeout=30).status_code == 503
        release.touch()
        s.ready_path = "/health/ready"
        s.wait_ready()
        assert requests.get(s.url + "/score?data=1", timeout=30).json() == "ok"


def _score_pids(output: str) -> set[str]:
    """PIDs of the workers that logged a 200 /score access line."""
    return {
        line.split("[", 1)[1].split("]", 1)[0]
        for line in output.splitlines()
        if "azmlinfsrv - POST /score 200" in line
    }


def test_metrics_are_summed_across_two_workers(iris_model_dir):
    with ServiceProcess.ours(*iris_args(iris_model_dir), "--worker_count", "2") as server:
        server.wait_ready()
        sent = 0
        # Which worker accepts a connection is the kernel's choice: send (on new connections) until both have served.
        while sent < 500 and (sent < 10 or len(_score_pids(server.output)) < 2):
            response = requests.post(
                server.url + "/score", json={"data": [ROW]}, headers={"Connection": "close"}, timeout=30
            )
            assert response.status_code == 200
            sent += 1
        pids = _score_pids(server.output)
        text = requests.get(server.url + "/metrics", timeout=30).text
    assert len(pids) == 2, f"only workers {pids} served in {sent} requests"
    assert f'scoring_requests_total{{method="POST",route="/score",status="200"}} {sent}.0' in text


def test_preload_runs_init_once_in_the_master(iris_model_dir):
    with ServiceProcess.ours(*iris_args(iris_model_dir), "--worker_count", "2", env={"WORKER_PRELOAD": "true"}) as s:
        s.wait_ready()
        assert requests.post(s.url + "/score", json={"data": [ROW]}, timeout=30).json() == [0]
        assert s.output.count("Invoking user's init function") == 1


def test_sigterm_stops_gracefully_with_status_0(iris_model_dir):
    server = ServiceProcess.ours(*iris_args(iris_model_dir))
    server.wait_ready()
    server.stop()
    assert server.proc.returncode == 0
    assert "Shutting down: Master" in server.output


def test_tampered_model_is_refused_with_one_clear_line(iris_model_dir, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(iris_model_dir, tampered)
    with open(tampered / "model.joblib", "ab") as fh:
        fh.write(b"\0")
    server = ServiceProcess.ours(*iris_args(tampered))
    assert server.wait_exit() == 3
    refusals = [line for line in server.output.splitlines() if "Refusing to start" in line]
    assert len(refusals) == 1 and "sha256" in refusals[0]
    assert "Listening at" not in server.output


@pytest.mark.parametrize("preload", ["false", "true"])
def test_failing_init_stops_the_server_with_status_3(preload):
    server = ServiceProcess.ours("--entry_script", str(SCRIPTS / "init_fails.py"), env={"WORKER_PRELOAD": preload})
    assert server.wait_exit() == 3
    assert "init-failure-detail" in server.output
    expected = "Refusing to start" if preload == "true" else "Worker failed to boot"
    assert expected in server.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--port", "abc"], "invalid int value"),
        (["--worker_count", "0"], "--worker_count / WORKER_COUNT must be at least 1, got 0"),
        (["--port", "70000"], "between 1 and 65535"),
        (["--config_file", "/nonexistent/config.json"], "must name a file"),
        (["--entry_script", "/nonexistent/score.py"], "entry script /nonexistent/score.py does not exist"),
        ([], "no entry script and no model directory"),
    ],
)
def test_bad_flags_exit_2_with_a_message(args, fragment):
    result = subprocess.run(
        [sys.executable, "-m", "service", *args], cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert fragment in result.stderr


@pytest.mark.parametrize(
    ("gunicorn_args", "named"),
    [("--certfile {cert}", "--certfile"), ("--certfile {cert} --keyfile {key}", "--certfile and --keyfile")],
)
def test_tls_options_exit_2_naming_the_option(tmp_path, gunicorn_args, named):
    """ScoringWorker does not terminate TLS: refused at start, not a worker that exits and is respawned in a loop
    (the files exist, so gunicorn's own check that they do lets them through)."""
    files = {name: tmp_path / f"{name}.pem" for name in ("cert", "key")}
    for path in files.values():
        path.write_text("")
    env = clean_env(GUNICORN_CMD_ARGS=gunicorn_args.format(**files))
    script = str(SCRIPTS / "query_echo.py")
    argv = [sys.executable, "-m", "service", "--entry_script", script, "--port", str(free_port())]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"GUNICORN_CMD_ARGS sets {named}, but this service does not terminate TLS" in result.stderr


def test_missing_metrics_directory_exits_2():
    env = clean_env(PROMETHEUS_MULTIPROC_DIR="/nonexistent/metrics")
    argv = [sys.executable, "-m", "service", "--entry_script", str(SCRIPTS / "query_echo.py")]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "PROMETHEUS_MULTIPROC_DIR /nonexistent/metrics is not a directory" in result.stderr


def test_bad_entry_script_exits_3():
    server = ServiceProcess.ours("--entry_script", str(SCRIPTS / "no_init.py"))
    assert server.wait_exit() == 3
    assert "does not define init()" in server.output


def test_json_log_format_gives_one_json_access_object(iris_model_dir):
    with ServiceProcess.ours(*iris_args(iris_model_dir), env={"LOG_FORMAT": "json"}) as server:
        server.wait_ready()
        requests.post(server.url + "/score", json={"data": [ROW]}, headers={"x-request-id": "json-log-1"}, timeout=30)
        entries = [json.loads(line) for line in server.output.splitlines() if "json-log-1" in line]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["logger"], entry["method"], entry["path"], entry["status"]) == (
        "azmlinfsrv",
        "POST",
        "/score",
        200,
    )
    assert entry["request_id"] == "json-log-1" and entry["duration_ms"] >= 0


def test_plain_gunicorn_serves_the_wsgi_module(iris_model_dir):
    port = free_port()
    env = {"AZUREML_ENTRY_SCRIPT": str(SCRIPTS / "iris_score.py"), "AZUREML_MODEL_DIR": str(iris_model_dir)}
    argv = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-b", f"127.0.0.1:{port}", "service.wsgi:app"]
    with ServiceProcess(argv, port, env, ready_path="/health/ready") as server:
        server.wait_ready()
        assert requests.post(server.url + "/score", json={"data": [ROW]}, timeout=30).json() == [0]


def test_separate_health_endpoint_serves_the_same_routes(iris_model_dir):
    health_port = free_port()
    env = {"SEPERATE_HEALTH_ENDPOINT": "true"}
    with ServiceProcess.ours(*iris_args(iris_model_dir), "--health_port", str(health_port), env=env) as server:
        server.wait_ready()
        health_url = f"http://127.0.0.1:{health_port}"
        assert requests.get(health_url + "/", timeout=30).text == "Healthy"
        assert requests.post(health_url + "/score", json={"data": [ROW]}, timeout=30).json() == [0]


def test_missing_model_dir_is_refused(tmp_path):
    server = ServiceProcess.ours("--entry_script", str(SCRIPTS / "query_echo.py"), "--model_dir", str(tmp_path / "no"))
    assert server.wait_exit() == 3
    assert "does not exist or is not a directory" in server.output


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_prints_become_log_lines(log_format):
    with ServiceProcess.ours("--entry_script", str(SCRIPTS / "prints.py"), env={"LOG_FORMAT": log_format}) as server:
        server.wait_ready()
        assert requests.post(server.url + "/score", data="x", timeout=30).json() == "printed"
        server.stop()
    lines = server.output.splitlines()
    printed = [line for line in lines if "hello from" in line]
    assert len(printed) == 2
    if log_format == "json":
        assert [json.loads(line)["logger"] for line in printed] == ["azmlinfsrv.print", "azmlinfsrv.print"]
        assert json.loads(printed[1])["message"] == "hello from run() x"
    else:
        assert all(" azmlinfsrv.print - hello from " in line for line in printed)
    assert "to stderr" in lines
