"""Fast checks of the container files without building: hadolint, the HEALTHCHECK script, the probes, run-image.sh."""

import http.server
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.mark.parametrize("dockerfile", ["docker/Dockerfile", "docker/Dockerfile.train", "docker/standin/Containerfile"])
def test_hadolint_is_clean(dockerfile):
    result = subprocess.run([str(HADOLINT), dockerfile], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status and body the test server was given."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    """Start a loopback HTTP server answering (status, body); yields a function that sets them and returns the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.status, server.body = 200, b"{}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def configure(status, body=b"{}"):
        server.status, server.body = status, body
        return server.server_address[1]

    try:
        yield configure
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthcheck(port):
    env = {"SERVER_PORT": str(port), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(ROOT / "docker" / "healthcheck.py")], env=env, capture_output=True, text=True, timeout=30
    )


def test_healthcheck_passes_on_ready(stub_server):
    result = _healthcheck(stub_server(200))
    assert result.returncode == 0, result.stderr


def test_healthcheck_fails_while_not_ready(stub_server):
    result = _healthcheck(stub_server(503))
    assert result.returncode == 1
    assert "returned 503, expected 200" in result.stderr


def test_healthcheck_fails_when_nothing_listens():
    result = _healthcheck(_free_port())
    assert result.returncode == 1
    assert "unhealthy: GET http://127.0.0.1:" in result.stderr


def _probe(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "docker" / "ci_probe.py"), *args], capture_output=True, text=True, timeout=60
    )


def test_probe_rejects_a_server_that_accepts_bad_requests(stub_server):
    result = _probe("bad-requests", f"http://127.0.0.1:{stub_server(200, b'[0]')}")
    assert result.returncode == 1
    assert "FAIL POST /score with 3 columns instead of 4 returned 200, expected 400" in result.stdout


def test_probe_requires_a_json_message_with_400(stub_server):
    result = _probe("bad-requests", f"http://127.0.0.1:{stub_server(400, b'<html>bad</html>')}")
    assert result.returncode == 1
    assert "400 without a JSON message" in result.stdout


def test_probe_detects_wrong_predictions(stub_server, iris_model_dir):
    url = f"http://127.0.0.1:{stub_server(200, b'[2, 2, 2, 2, 2]')}"
    result = _probe("score", url, str(iris_model_dir / "model.json"))
    assert result.returncode == 1
    assert "expected 200 [0, 0, 0, 0, 0]" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "usage: bash docker/run-image.sh <model dir>"), (["/nonexistent-model-dir"], "expected a model directory")],
)
def test_run_image_rejects_a_missing_model_dir(args, message):
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "run-image.sh"), *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_build_image_rejects_an_unknown_dockerfile():
    env = {"PATH": "/usr/bin:/bin", "DOCKERFILE": "docker/Dockerfile.nope"}
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "build-image.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "DOCKERFILE=docker/Dockerfile.nope is not a file" in result.stderr
