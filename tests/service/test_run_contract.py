"""The entry-script contract through the Flask test client: return values, AMLResponse, @rawhttp, readiness while
init() runs, SCORING_TIMEOUT_MS with threads, and one run() at a time."""

from __future__ import annotations

import json
import threading

import pytest
from service_helpers import make_client, make_settings

from service.app import create_app

# --- return values and AMLResponse (§10) ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def returns():
    return make_client("returns.py")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("list", [1, 2]),
        ("tuple", [1, 2]),
        ("none", {}),
        ("string", "hello"),
        ("json-string", '{"a": 1}'),
        ("unicode", {"k": "é€"}),
        ("bigint", 2**70),
        ("nonfinite", [None, None, None]),
        ("ndarray", [[1.5, None], [None, 2.0]]),
        ("np-int", 7),
        ("np-float32-in-dict", {"a": 1.5}),
        ("dataframe", [{"a": 1, "b": 0.5}, {"a": 2, "b": None}]),
        ("set", [3]),
    ],
)
def test_return_values_are_valid_json(returns, kind, expected):
    response = returns.post("/score", data=kind)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data(as_text=True)) == expected  # stdlib json: NaN would not be valid here
    assert b"NaN" not in response.get_data() and b"Infinity" not in response.get_data()


def test_unserialisable_return_value_is_an_internal_500(returns):
    response = returns.post("/score", data="bytes")
    assert response.status_code == 500
    assert response.get_json()["message"] == "An unexpected internal error occurred. Check the logs for more info."
    assert response.headers["x-ms-run-function-failed"] == "False"


def test_aml_response_text_with_comma_split_headers(returns):
    response = returns.post("/score", data="aml-text")
    assert (response.status_code, response.get_data(), response.mimetype) == (200, b"plain text", "text/plain")
    assert response.headers.getlist("Custom") == ["a", "b"]
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert "x-ms-run-fn-exec-ms" in response.headers


@pytest.mark.parametrize(
    ("kind", "status", "body", "failed"),
    [
        ("aml-json", 201, {"a": 1}, "False"),
        ("aml-json-numpy", 201, {"a": 1}, "False"),
        ("aml-none", 202, {}, "False"),
        ("aml-503", 503, None, "True"),
    ],
)
def test_aml_response_statuses(returns, kind, status, body, failed):
    response = returns.post("/score", data=kind)
    assert response.status_code == status
    if body is not None:
        assert response.get_json() == body
    assert response.headers["x-ms-run-function-failed"] == failed


def test_flask_response_500_gets_run_function_failed(returns):
    response = returns.post("/score", data="flask-500")
    assert (response.status_code, response.get_data()) == (500, b"x")
    assert response.headers["x-ms-run-function-failed"] == "True"


@pytest.mark.parametrize("method", ["get", "post", "options", "head"])
def test_rawhttp_run_gets_a_real_aml_request_for_every_method(method):
    client = make_client("rawhttp_echo.py")
    response = getattr(client, method)("/score?x=1&x=2", data="body-bytes", content_type="text/plain")
    assert response.status_code == 207
    assert response.headers.getlist("X-A") == ["1", "2"]
    if method != "head":
        info = response.get_json()
        assert info["is_aml_request"] is True
        assert info["method"] == method.upper()
        assert info["args"] == {"x": ["1", "2"]}


def test_rawhttp_still_405_for_unrouted_methods():
    assert make_client("rawhttp_echo.py").put("/score").status_code == 405


# --- readiness and timeouts ----------------------------------------------------------------------------------------


def test_readiness_is_503_until_a_background_init_finishes(tmp_path, monkeypatch):
    release = tmp_path / "release"
    monkeypatch.setenv("SLOW_INIT_RELEASE", str(release))
    settings = make_settings("slow_init.py", SCORING_TIMEOUT_MS="200")
    failures = []
    client = create_app(settings, init_in_background=True, on_init_failure=failures.append).test_client()
    assert client.get("/health/live").status_code == 200
    # /score waits up to SCORING_TIMEOUT_MS for init() before giving up with 503.
    for path in ["/health/ready", "/", "/score?data=1"]:
        response = client.get(path)
        assert response.status_code == 503, path
        assert "init() has not finished" in response.get_json()["message"]
    runner = client.application.extensions["scoring"].runner
    done = threading.Event()
    release.touch()
    for _ in range(600):
        if runner.ready:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set() and not failures
    assert client.get("/health/ready").status_code == 200
    assert client.get("/score?data=1").get_json() == "ok"


def test_background_init_failure_is_reported():
    failures = []
    client = create_app(
        make_settings("init_fails.py"), init_in_background=True, on_init_failure=failures.append
    ).test_client()
    runner = client.application.extensions["scoring"].runner
    for _ in range(600):
        if failures:
            break
        threading.Event().wait(0.05)
    assert isinstance(failures[0], RuntimeError)
    assert client.get("/health/ready").status_code == 503
    assert runner.state.value == "failed"


def test_scoring_timeout_is_504_in_a_thread():
    client = make_client("slow_run.py", SCORING_TIMEOUT_MS="200")
    assert client.post("/score", data="0").get_json() == "slept"
    response = client.post("/score", data="2")
    assert response.status_code == 504
    assert response.get_json()["message"] == "Scoring timeout after 200 ms"
    assert response.headers["x-ms-run-function-failed"] == "True"


def test_timed_out_python_loop_is_stopped():
    """The spin lasts 30 s unless the timeout's asynchronous exception stops it."""
    client = make_client("busy_run.py", SCORING_TIMEOUT_MS="500")
    assert client.post("/score", data="spin").status_code == 504
    stopped = threading.Event()
    for _ in range(200):  # up to 10 s, far less than the 30 s spin
        if client.post("/score", data="stopped?").get_json() == 1:
            stopped.set()
            break
        stopped.wait(0.05)
    assert stopped.is_set()


def test_a_stuck_call_gives_its_turn_back_on_timeout():
    client = make_client("slow_run.py", SCORING_TIMEOUT_MS="300")
    assert client.post("/score", data="2").status_code == 504
    assert client.post("/score", data="0").get_json() == "slept"


@pytest.mark.parametrize(("limit", "expected"), [(None, {1}), ("4", {1, 2, 3, 4})])
def test_run_calls_are_one_at_a_time_unless_raised(limit, expected):
    env = {"MAX_CONCURRENT_RUNS": limit} if limit else {}
    client = make_client("concurrency_probe.py", **env)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(client.post("/score", data="x").get_json())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and set(results) <= expected


def test_graceful_shutdown_turns_readiness_off_and_keeps_scoring():
    """gunicorn calls the worker's handle_exit on SIGTERM; ours marks the app not ready before gthread's own part."""
    import signal

    from service.worker import ScoringWorker

    client = make_client("query_echo.py")
    assert client.get("/health/ready").status_code == 200
    worker = ScoringWorker.__new__(ScoringWorker)
    worker.wsgi, worker.alive = client.application, False  # alive=False: gthread's part has nothing left to do
    worker.handle_exit(signal.SIGTERM, None)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["message"] == "The service is shutting down."
    assert client.get("/").status_code == 503
    # Requests gunicorn accepted before the signal are still served; it accepts no new connections.
    assert client.post("/score", data="x").status_code == 200
    assert client.get("/health/live").status_code == 200
