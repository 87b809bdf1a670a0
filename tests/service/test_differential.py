"""Differential test: the same entry scripts under the reference server (azmlinfsrv 1.5.1) and ours, same answers.

For every request of a corpus of valid requests (to /score, plus GET / and the three swagger documents), the status
and the parsed body must be equal. Two scripts:
tests/service/scripts/iris_score.py (an Azure-style script) and service/score.py (no-code scoring; ours runs it as
the default when no entry script is given). Skipped only when scripts/reference-venv.sh cannot reach the package index.
"""

import json
from contextlib import ExitStack
from urllib.parse import quote

import pytest
import requests
from service_helpers import REPO, SCRIPTS, ServiceProcess, reference_server
from sklearn.datasets import load_iris

pytestmark = [pytest.mark.reference, pytest.mark.slow]

IRIS_SCORE = SCRIPTS / "iris_score.py"
SCORE_PY = REPO / "service" / "score.py"
IRIS = load_iris()
NAMES = list(IRIS.feature_names)
ROW = IRIS.data[0].tolist()
THREE = IRIS.data[[0, 100, 50]].tolist()
ALL = IRIS.data.tolist()
JSON = {"Content-Type": "application/json"}


def post(payload, headers=JSON):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return ("POST", "/score", body, headers)


def get(**query):
    return ("GET", "/score?" + "&".join(f"{k}={quote(json.dumps(v))}" for k, v in query.items()), None, {})


def records(rows, order=NAMES):
    return [{name: row[NAMES.index(name)] for name in order} for row in rows]


# Valid for both scripts: the "data" argument alone.
COMMON = {
    "one row": post({"data": [ROW]}),
    "three rows": post({"data": THREE}),
    "all 150 rows": post({"data": ALL}),
    "numeric strings": post({"data": [[str(v) for v in ROW]]}),
    "ints": post({"data": [[6, 3, 5, 2], [5, 3, 1, 0]]}),
    "bools and ints mixed with floats": post({"data": [[5.1, True, 1, 0.2]]}),
    "exponent notation": post({"data": [[5.1e0, 35e-1, 0.14e1, 2e-1]]}),
    "negative and large values": post({"data": [[-1.0, 100.0, 1e6, -3.5]]}),
    "extra keys are ignored": post({"data": [ROW], "extra": {"a": [1, 2]}, "id": 7}),
    "duplicate key, last wins": post(b'{"data": "junk", "data": [[5.1, 3.5, 1.4, 0.2]]}'),
    "content type with charset": post({"data": [ROW]}, {"Content-Type": "application/json; charset=utf-8"}),
    "content type +json": post({"data": [ROW]}, {"Content-Type": "application/vnd.api+json"}),
    "whitespace around the JSON": post(b'\n  {"data": [[5.1, 3.5, 1.4, 0.2]]}  \n'),
    "UTF-16 body": post(json.dumps({"data": THREE}).encode("utf-16")),
    "GET with data": get(data=[ROW]),
    "GET with three rows": get(data=THREE),
    "GET with numeric strings": get(data=[[str(v) for v in ROW]]),
    "GET with repeated data keys": (
        "GET",
        "/score?data=" + quote(json.dumps(ROW)) + "&data=" + quote(json.dumps(THREE[1])),
        None,
        {},
    ),
}

# Not /score, but just as much part of the contract: health and the generated swagger documents.
DOCUMENTS = {
    "GET /": ("GET", "/", None, {}),
    "swagger 2": ("GET", "/swagger.json", None, {}),
    "swagger 3": ("GET", "/swagger.json?version=3", None, {}),
    "swagger 3.1": ("GET", "/swagger.json?version=3.1", None, {}),
}

# Only for the no-code script: method and records.
NO_CODE = {
    "method predict": post({"data": THREE, "method": "predict"}),
    "method predict_proba, one row": post({"data": [ROW], "method": "predict_proba"}),
    "method predict_proba, all rows": post({"data": ALL, "method": "predict_proba"}),
    "records": post({"data": records(THREE)}),
    "records in reverse key order": post({"data": records(THREE, NAMES[::-1])}),
    "records with numeric strings": post({"data": [{k: str(v) for k, v in r.items()} for r in records([ROW])]}),
    "records with predict_proba": post({"data": records(THREE), "method": "predict_proba"}),
    "unknown method (400 from the script)": post({"data": [ROW], "method": "transform"}),
    "GET with method": get(data=[ROW], method="predict_proba"),
    "GET with records": get(data=records([ROW])),
}

# Client errors: the reference answers each with its generic 500, we answer 400 with a message (issue 3).
BAD_INPUT = {
    "3 columns": post({"data": [[5.1, 3.5, 1.4]]}),
    "5 columns": post({"data": [ROW + [1.0]]}),
    "1-D data": post({"data": ROW}),
    "3-D data": post({"data": [[ROW]]}),
    "empty data": post({"data": []}),
    "empty row": post({"data": [[]]}),
    "ragged rows": post({"data": [ROW, ROW[:3]]}),
    "data is null": post({"data": None}),
    "data is a string": post({"data": "abc"}),
    "data is an object": post({"data": {}}),
    "non-numeric string": post({"data": [[5.1, "abc", 1.4, 0.2]]}),
    "null value": post({"data": [[5.1, None, 1.4, 0.2]]}),
    "NaN literal": post(b'{"data": [[5.1, NaN, 1.4, 0.2]]}'),
    "1e400 (Infinity)": post(b'{"data": [[5.1, 1e400, 1.4, 0.2]]}'),
    "nested value": post({"data": [[5.1, [3.5], 1.4, 0.2]]}),
}
REFERENCE_500 = {"message": "An unexpected error occurred in scoring script. Check the logs for more info."}

CORPUS = [("iris_score", name, request) for name, request in {**COMMON, **DOCUMENTS}.items()] + [
    ("no_code", name, request) for name, request in {**COMMON, **DOCUMENTS, **NO_CODE}.items()
]


def _send(process: ServiceProcess, request_) -> tuple[int, object]:
    method, path, body, headers = request_
    response = requests.request(method, process.url + path, data=body, headers=headers, timeout=60)
    try:
        document = response.json()
    except ValueError:
        return response.status_code, response.text
    if isinstance(document, dict) and "request_id" in document:
        # Ours adds the request id to every JSON 4xx {"message"} (the reference's script errors have none): it must be
        # this request's, and is then left out so that the rest of the body is compared.
        assert document.pop("request_id") == response.headers["x-request-id"]
    return response.status_code, document


@pytest.fixture(scope="module")
def servers(reference_python, iris_model_dir, iris_proba_model_dir):
    """Both servers for both scripts, started once for the module; ours serves no-code scoring by default."""
    with ExitStack() as stack:
        started = {}
        for script, entry, model_dir in (
            ("iris_score", IRIS_SCORE, iris_model_dir),
            ("no_code", SCORE_PY, iris_proba_model_dir),
        ):
            reference = reference_server(reference_python, "--entry_script", str(entry), "--model_dir", str(model_dir))
            default_script = [] if entry == SCORE_PY else ["--entry_script", str(entry)]
            ours = ServiceProcess.ours("--model_dir", str(model_dir), *default_script)
            started[script] = (stack.enter_context(reference).wait_ready(), stack.enter_context(ours).wait_ready())
        yield started


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 30
    assert len({(script, name) for script, name, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("script", "name", "request_"), CORPUS, ids=[f"{s}: {n}" for s, n, _ in CORPUS])
def test_same_status_and_body(servers, script, name, request_):
    reference, ours = servers[script]
    expected_status, expected_body = _send(reference, request_)
    assert expected_status in (200, 400), f"corpus request is not valid for the reference: {expected_body!r}"
    assert _send(ours, request_) == (expected_status, expected_body)


@pytest.mark.parametrize("script", ["iris_score", "no_code"])
@pytest.mark.parametrize(("name", "request_"), BAD_INPUT.items(), ids=list(BAD_INPUT))
def test_bad_input_is_our_400_where_the_reference_fails_with_500(servers, script, name, request_):
    reference, ours = servers[script]
    assert _send(reference, request_) == (500, REFERENCE_500)
    status, body = _send(ours, request_)
    assert status == 400, body
    assert body["message"] and body["message"] != REFERENCE_500["message"]


def test_the_answers_are_predictions(servers):
    """Guard against two servers agreeing on an error: the corpus answers are real predictions."""
    for script in ("iris_score", "no_code"):
        for server in servers[script]:
            assert _send(server, post({"data": THREE})) == (200, [0, 2, 1])
    status, body = _send(servers["no_code"][1], post({"data": [ROW], "method": "predict_proba"}))
    assert status == 200 and body["classes"] == [0, 1, 2] and body["probabilities"][0][0] > 0.5
