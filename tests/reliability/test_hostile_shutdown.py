"""SIGTERM while run() misbehaves (issue 14): blocked in C, allocating without end, or swallowing the interrupt
that SCORING_TIMEOUT_MS raises into it. The service must exit within its graceful timeout plus a few seconds, every
time, and answer the hostile request 504 at the timeout meanwhile.

The graceful timeout is shortened to GRACEFUL_TIMEOUT_S through GUNICORN_CMD_ARGS (as a user would) to keep the
test short; every run() mode is bounded in time and memory by the script itself.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from raw_http import exchange, request_bytes
from reliability_helpers import SCRIPTS, Server

pytestmark = pytest.mark.slow
GRACEFUL_TIMEOUT_S = 3
EXIT_MARGIN_S = 5
SCORING_TIMEOUT_MS = 500


@pytest.mark.parametrize("kind", ["block", "allocate", "swallow"])
@pytest.mark.parametrize("attempt", [1, 2])
def test_sigterm_exits_in_time_whatever_run_does(kind, attempt):
    env = {
        "GUNICORN_CMD_ARGS": f"--graceful-timeout {GRACEFUL_TIMEOUT_S}",
        "SCORING_TIMEOUT_MS": str(SCORING_TIMEOUT_MS),
    }
    server = Server("--entry_script", str(SCRIPTS / "hostile_run.py"), env=env)
    try:
        server.wait_ready()
        answers = []
        hostile = threading.Thread(
            target=lambda: answers.append(
                exchange(server.port, request_bytes("POST", "/score", kind.encode(), content_type=None), timeout=30)
            )
        )
        hostile.start()
        hostile.join(30)  # answered 504 at the timeout while run() goes on misbehaving
        live = exchange(server.port, request_bytes("GET", "/health/live", content_type=None))
        server.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        status = server.wait_exit(timeout=GRACEFUL_TIMEOUT_S + 30)
        exit_s = time.monotonic() - signalled
    finally:
        output = server.stop()
    print(f"\nsummary SIGTERM with a {kind} run() (attempt {attempt}): exit {status} after {exit_s:.2f} s")
    assert [(answer.status, answer.json()["message"]) for answer in answers] == [
        (504, f"Scoring timeout after {SCORING_TIMEOUT_MS} ms")
    ], output[-3000:]
    assert live.status == 200
    assert exit_s < GRACEFUL_TIMEOUT_S + EXIT_MARGIN_S, output[-3000:]
    assert "Shutting down: Master" in output
