"""service.fast_score: POST /score answered without Flask's dispatch must answer exactly as the Flask app does, and
must be the path the common request actually takes.

Each request goes to the same app twice: through ``app.wsgi_app`` (the fast path in front of Flask) and through the
Flask app behind it alone; status, headers and body must agree, up to the values that differ on every call (a new
request id, run()'s time).
"""

import gc
import json
import logging

import pytest
from service_helpers import ROW, SCRIPTS, make_client, make_settings
from werkzeug.test import Client

from service.app import create_app
from service.entry_script import load_entry_script
from service.fast_score import FastScore
from service.inputs import body_arguments

JSON = "application/json"
_VARYING = {"x-ms-run-fn-exec-ms"}


def _clients(script, model_dir, **env):
    """(the app's own client, a client of the Flask app alone, the app) for ``script``."""
    app = make_client(script, model_dir, **env).application
    assert isinstance(app.wsgi_app, FastScore), "create_app must put the fast path in front of Flask"
    return Client(app.wsgi_app), Client(app.wsgi_app.app), app


def _comparable(response):
    request_id = response.headers.get("x-request-id")
    body = response.get_data()
    if request_id and response.mimetype == JSON:
        body = body.replace(json.dumps(request_id)[1:-1].encode(), b"<id>")
    headers = [
        (name, "<id>" if request_id and value == request_id else value)
        for name, value in response.headers
        if name.lower() not in _VARYING
    ]
    return response.status_code, headers, body


def _same_answer(clients, *args, **kwargs):
    fast, flask_only = (client.open(*args, **kwargs) for client in clients[:2])
    assert _comparable(fast) == _comparable(flask_only)
    return fast


class _Counting:
    """Counts the requests that reach the Flask app behind the fast path."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


ROWS = {"data": [ROW, [6.2, 2.9, 4.3, 1.3]]}
IRIS_REQUESTS = [
    pytest.param({"json": ROWS}, id="rows"),
    pytest.param({"json": {"data": [{"sepal length (cm)": 5.1}]}}, id="bad-records"),
    pytest.param({"data": b"{not json", "content_type": JSON}, id="invalid-json"),
    pytest.param({"data": b"", "content_type": JSON}, id="empty-body"),
    pytest.param({"json": [1, 2]}, id="not-an-object"),
    pytest.param({"json": {"rows": [ROW]}}, id="missing-parameter"),
    pytest.param({"json": {"data": [[1, 2, 3]]}}, id="wrong-columns"),
    pytest.param({"data": b'{"data": [[NaN, 1, 2, 3]]}', "content_type": JSON}, id="nan"),
    pytest.param({"data": json.dumps(ROWS), "content_type": "text/plain"}, id="text-plain"),
    pytest.param({"data": json.dumps(ROWS), "content_type": "application/json; charset=utf-8"}, id="charset"),
    pytest.param({"data": json.dumps(ROWS), "content_type": "application/vnd.api+json"}, id="plus-json"),
    pytest.param({"json": ROWS, "query_string": "verbose=1"}, id="query-string"),
    pytest.param({"json": ROWS, "headers": {"x-request-id": "client-id-1"}}, id="x-request-id"),
    pytest.param({"json": ROWS, "headers": {"x-ms-client-request-id": "c1", "TraceId": "t1"}}, id="client-ids"),
    pytest.param({"json": ROWS, "headers": {"x-ms-request-id": "legacy-1"}}, id="deprecated-id"),
    pytest.param({"json": ROWS, "headers": {"x-request-id": "x" * 101}}, id="id-too-long"),
    pytest.param({"json": ROWS, "headers": {"x-ms-client-request-id": "c" * 101}}, id="client-id-too-long"),
    pytest.param({"json": ROWS, "headers": {"Origin": "https://a.example"}}, id="origin-without-cors"),
]


@pytest.fixture(scope="module")
def iris_clients(iris_model_dir):
    return _clients("iris_score.py", iris_model_dir)


@pytest.mark.parametrize("kwargs", IRIS_REQUESTS)
def test_the_fast_path_answers_as_the_flask_app(iris_clients, kwargs):
    _same_answer(iris_clients, "/score", method="POST", **kwargs)


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "HEAD", "PUT"])
def test_other_methods_answer_as_the_flask_app(iris_clients, method):
    _same_answer(iris_clients, "/score", method=method, query_string="data=[[5.1,3.5,1.4,0.2]]")


def test_a_valid_request_never_reaches_flask_and_a_bad_one_does(iris_model_dir):
    fast, _, app = _clients("iris_score.py", iris_model_dir)
    app.wsgi_app.app = counting = _Counting(app.wsgi_app.app)
    for _ in range(3):
        assert fast.post("/score", json=ROWS).get_json() == [0, 1]
    assert counting.calls == 0
    assert fast.post("/score", json={"data": [[1, 2]]}).status_code == 400
    assert fast.post("/score?x=1", json=ROWS).status_code == 200
    assert counting.calls == 2


def test_it_writes_the_same_access_line_and_metrics_as_the_flask_app(iris_model_dir, caplog):
    fast, flask_only, app = _clients("iris_score.py", iris_model_dir)
    with caplog.at_level(logging.INFO, logger="azmlinfsrv"):
        for client in (fast, flask_only):
            client.post("/score", json=ROWS, headers={"x-request-id": "same-id"})
    lines = [r.getMessage() for r in caplog.records if r.name == "azmlinfsrv" and "POST /score" in r.getMessage()]
    assert len(lines) == 2
    assert [line.rsplit(" ", 2)[0] for line in lines] == ["POST /score 200"] * 2
    assert all(line.endswith(" same-id") for line in lines)
    metrics = fast.get("/metrics").get_data(as_text=True)
    assert 'scoring_requests_total{method="POST",route="/score",status="200"} 2.0' in metrics
    assert "scoring_requests_in_flight 1.0" in metrics  # /metrics itself; both scoring requests are done


@pytest.mark.parametrize(
    ("script", "body"),
    [
        ("raises.py", "anything"),
        ("returns.py", "list"),
        ("returns.py", "none"),
        ("returns.py", "bytes"),
        ("returns.py", "aml-json"),
        ("returns.py", "aml-text"),
        ("returns.py", "aml-503"),
        ("returns.py", "flask-500"),
        ("returns.py", "nonfinite"),
    ],
)
def test_every_outcome_of_run_is_answered_as_the_flask_app_answers_it(iris_model_dir, script, body):
    """Exceptions, responses and values with no JSON form go to the view after the call (environ RAN)."""
    clients = _clients(script, iris_model_dir)
    _same_answer(clients, "/score", method="POST", data=body, content_type=JSON)


def test_a_failing_run_is_logged_once_with_its_traceback(iris_model_dir, caplog):
    fast, _, _ = _clients("raises.py", iris_model_dir)
    with caplog.at_level(logging.INFO):
        response = fast.post("/score", data="x", content_type=JSON, headers={"x-request-id": "rid-7"})
    assert response.status_code == 500 and b"secret-detail-xyz" not in response.get_data()
    failures = [r for r in caplog.records if "run() raised an exception" in r.getMessage()]
    assert len(failures) == 1 and "request_id=rid-7" in failures[0].getMessage()
    assert "secret-detail-xyz" in caplog.text  # the traceback of run()'s own exception


@pytest.mark.parametrize(
    ("env", "headers"),
    [
        ({"SCORING_API_KEY": "k1"}, {"Authorization": "Bearer k1"}),
        ({"SCORING_API_KEY": "k1"}, {"Authorization": "Bearer nope"}),
        ({"SCORING_API_KEY": "k1"}, {}),
        ({"AML_CORS_ORIGINS": "https://a.example"}, {"Origin": "https://a.example"}),
        ({"AML_CORS_ORIGINS": "https://a.example"}, {"Origin": "https://b.example"}),
        ({"AML_CORS_ORIGINS": "https://a.example"}, {}),
    ],
)
def test_keys_and_cors_answer_as_the_flask_app(iris_model_dir, env, headers):
    clients = _clients("iris_score.py", iris_model_dir, **env)
    _same_answer(clients, "/score", method="POST", json=ROWS, headers=headers)


@pytest.mark.parametrize("script", ["rawhttp_echo.py", "request_headers.py"])
def test_scripts_that_need_the_request_are_left_to_flask(iris_model_dir, script):
    app = create_app(make_settings(script, iris_model_dir))
    assert not isinstance(app.wsgi_app, FastScore)


def test_a_worker_still_in_init_is_left_to_flask(iris_model_dir, tmp_path):
    release = tmp_path / "release"
    settings = make_settings("slow_init.py", iris_model_dir, SLOW_INIT_RELEASE=str(release), SCORING_TIMEOUT_MS="50")
    app = create_app(settings, init_in_background=True)
    try:
        assert isinstance(app.wsgi_app, FastScore)
        app.wsgi_app.app = counting = _Counting(app.wsgi_app.app)
        assert Client(app.wsgi_app).post("/score", json=ROWS).status_code == 503
        assert counting.calls == 1
    finally:
        release.touch()


def test_the_heap_of_init_is_frozen_once_init_is_done(iris_model_dir):
    before = gc.get_freeze_count()
    make_client("iris_score.py", iris_model_dir)
    assert gc.get_freeze_count() > before


def test_a_large_body_is_parsed_and_converted_without_a_garbage_collection():
    script = load_entry_script(SCRIPTS / "iris_score.py")
    body = json.dumps({"data": [ROW] * 20_000}).encode()
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        arguments = body_arguments(body, script, is_json=True)
    finally:
        gc.callbacks.remove(count)
    assert arguments["data"].shape == (20_000, 4)
    assert collections == []  # 20 000 row lists would trigger about 28 collections with the collector running
    assert gc.isenabled()


def test_the_collector_stays_off_when_it_was_off():
    script = load_entry_script(SCRIPTS / "iris_score.py")
    gc.disable()
    try:
        body_arguments(json.dumps({"data": [ROW]}).encode(), script, is_json=True)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_script_that_imports_flask_request_runs_inside_flasks_request_context(iris_model_dir):
    client = make_client("flask_request.py", iris_model_dir)
    assert not isinstance(client.application.wsgi_app, FastScore)
    response = client.post("/score", data="x", content_type=JSON)
    assert response.status_code == 200 and response.get_json() == {"path": "/score", "data": "x"}


# --- the other protocols' scoring routes (no-code scoring) -----------------------------------------------------------

V2 = "/v2/models/sklearn-iris"
TENSOR = {"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": [*ROW, 6.2, 2.9, 4.3, 1.3]}
PROTOCOL_REQUESTS = [
    pytest.param(f"{V2}/infer", {"json": {"inputs": [TENSOR], "id": "r1"}}, id="v2"),
    pytest.param(f"{V2}/versions/1/infer", {"json": {"inputs": [TENSOR]}}, id="v2-version"),
    pytest.param(f"{V2}/versions/7/infer", {"json": {"inputs": [TENSOR]}}, id="v2-other-version"),
    pytest.param("/v2/models/other/infer", {"json": {"inputs": [TENSOR]}}, id="v2-other-model"),
    pytest.param(f"{V2}/infer", {"json": {"inputs": [TENSOR], "parameters": {"method": "predict_proba"}}}, id="v2-p"),
    pytest.param(f"{V2}/infer", {"json": {"inputs": [TENSOR], "parameters": {"binary_data_output": True}}}, id="v2-b"),
    pytest.param(f"{V2}/infer", {"json": {"inputs": [{**TENSOR, "shape": [3, 4]}]}}, id="v2-bad-shape"),
    pytest.param(f"{V2}/infer", {"json": {"inputs": []}}, id="v2-no-inputs"),
    pytest.param(f"{V2}/infer", {"json": {"inputs": [TENSOR], "parameters": {"method": "fit"}}}, id="v2-bad-method"),
    pytest.param("/invocations", {"json": {"inputs": [ROW]}}, id="mlflow-inputs"),
    pytest.param("/invocations", {"json": {"instances": [ROW], "params": {"method": "predict_proba"}}}, id="mlflow-p"),
    pytest.param("/invocations", {"json": {"dataframe_split": {"data": [ROW]}}}, id="mlflow-split"),
    pytest.param("/invocations", {"json": {"inputs": [ROW], "params": {"method": "fit"}}}, id="mlflow-bad-method"),
    pytest.param("/invocations", {"json": {"rows": [ROW]}}, id="mlflow-bad-form"),
    pytest.param("/invocations", {"data": "a,b,c,d\n5.1,3.5,1.4,0.2\n", "content_type": "text/csv"}, id="mlflow-csv"),
]


@pytest.mark.parametrize("model", ["plain", "proba"])
@pytest.mark.parametrize(("path", "kwargs"), PROTOCOL_REQUESTS)
def test_the_protocols_scoring_routes_answer_as_the_flask_app(request, model, path, kwargs):
    model_dir = request.getfixturevalue("iris_model_dir" if model == "plain" else "iris_proba_model_dir")
    clients = _clients(None, model_dir)
    if model == "proba":
        path = path.replace("sklearn-iris", "sklearn-iris-proba")
    _same_answer(clients, path, method="POST", **kwargs)


def test_valid_protocol_requests_never_reach_flask(iris_model_dir):
    fast, _, app = _clients(None, iris_model_dir)
    app.wsgi_app.app = counting = _Counting(app.wsgi_app.app)
    assert fast.post(f"{V2}/infer", json={"inputs": [TENSOR]}).get_json()["outputs"][0]["data"] == [0, 1]
    assert fast.post("/invocations", json={"inputs": [ROW]}).get_json() == {"predictions": [0]}
    assert fast.post("/score", json={"data": [ROW]}).get_json() == [0]
    assert counting.calls == 0
    assert fast.post("/invocations", data="a\n1\n", content_type="text/csv").status_code == 400
    assert counting.calls == 1
