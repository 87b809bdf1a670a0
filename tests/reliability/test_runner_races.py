"""Runner's watchdog racing a run() that returns at the worst moment, on a real Runner and a real entry script whose
run() waits on an Event the test sets: an abandoned call is marked before its own thread can answer, and a turn is
given back even when the interrupt lands inside the call's own finishing."""

from __future__ import annotations

import threading
import time

import pytest

from service.entry_script import load_entry_script
from service.errors import ScoringTimeout
from service.runner import ABANDON_GRACE_S, Runner, _Interrupted, _set_async_exc

SCRIPT = """
import threading

started = threading.Event()
release = threading.Event()


def init():
    pass


def run(data):
    started.set()
    release.wait(30)  # blocked in C: the watchdog's interrupt cannot take effect here
    return "late"
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "blocking_run.py"
    path.write_text(SCRIPT)
    return load_entry_script(path)


def _call_in_thread(runner: Runner, outcome: list, on_timeout=lambda: None) -> threading.Thread:
    def request() -> None:
        try:
            outcome.append(runner.run({"data": "x"}, {}))
        except ScoringTimeout:
            outcome.append(on_timeout())

    thread = threading.Thread(target=request)
    thread.start()
    return thread


def test_an_abandoned_call_is_marked_before_its_thread_learns_its_fate(script):
    """``on_abandon`` runs under the call's lock: a run() that returns right then waits for the mark (the worker's
    UNANSWERED), so it drops its answer instead of writing a second one next to the watchdog's 504."""
    runner = Runner(script, timeout_ms=50, threads=1)
    runner.watched_externally = True
    release = script.run.__globals__["release"]
    environ: dict[str, bool] = {}
    outcome: list = []
    thread = _call_in_thread(runner, outcome, on_timeout=lambda: dict(environ))
    assert script.run.__globals__["started"].wait(10)

    def on_abandon(call):
        release.set()  # run() returns exactly now...
        thread.join(0.2)  # ...and has every chance to run on before the mark is made
        environ["unanswered"] = True
        return "exchange"

    now = time.monotonic() + 1
    assert runner.watch(now, on_abandon) == []  # the interrupt, which a call blocked in C does not notice
    # A little past the grace: (now + 0.1) - now is below 0.1 in floating point for some clock values (uptimes).
    assert runner.watch(now + ABANDON_GRACE_S * 1.01, on_abandon) == ["exchange"]
    thread.join(10)
    assert outcome == [{"unanswered": True}]


def test_an_interrupt_landing_while_the_call_finishes_still_gives_the_turn_back(script):
    """The watchdog's interrupt set just before the returning call takes its lock fires inside the clearing of it:
    the turn must be given back all the same, or with MAX_CONCURRENT_RUNS=1 every later run() times out."""
    runner = Runner(script, timeout_ms=300, threads=1)
    runner.watched_externally = True
    release = script.run.__globals__["release"]
    outcome: list = []
    thread = _call_in_thread(runner, outcome, on_timeout=lambda: "timeout")
    assert script.run.__globals__["started"].wait(10)
    (call,) = runner._calls
    with call.lock:  # what Runner.watch does at the deadline, with the call's own thread waiting for the lock
        release.set()
        thread.join(0.2)
        call.interrupted_at = time.monotonic()
        _set_async_exc(call.thread_id, _Interrupted)
    thread.join(10)
    later: list = []
    _call_in_thread(runner, later, on_timeout=lambda: "timeout").join(10)
    assert outcome == ["timeout"]
    assert [answer for answer, _elapsed_ms in later] == ["late"]
