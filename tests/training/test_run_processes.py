"""Runs killed without a word (issue 14): a SIGKILLed `python -m training train` is listed as ``killed``, a live run
beside it stays ``running``, a reused pid is not taken for the recorded process, and old workspaces are migrated."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from training_helpers import PYTHON, subprocess_env

from training.db import connect
from training.processes import ProcessIdentity, start_token
from training.run_history import RunHistory

pytestmark = pytest.mark.slow


@contextmanager
def _full_pipe():
    """A pipe already holding as much as it can, so a process writing to it blocks (nobody reads it)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        while True:
            os.write(write_end, b"x" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)  # the flag is shared with the child's copy of the descriptor
    try:
        yield write_end
    finally:
        os.close(read_end)
        os.close(write_end)


def _raw_runs(workspace: Path) -> dict[str, str]:
    """run_id -> status as stored, read without RunHistory (which would check the processes)."""
    if not (workspace / "workspace.db").exists():
        return {}
    with sqlite3.connect(workspace / "workspace.db", timeout=30) as db:
        try:
            return dict(db.execute("SELECT run_id, status FROM runs"))
        except sqlite3.OperationalError:  # the table is being created
            return {}


@contextmanager
def _stuck_training(workspace: Path, stdout_fd: int):
    """`python -m training train` stuck writing its first line into a full pipe, after it recorded its run."""
    before = set(_raw_runs(workspace))
    process = subprocess.Popen([PYTHON, "-m", "training", "train"], stdout=stdout_fd, stderr=subprocess.DEVNULL,
                               env=subprocess_env(SKLEARN_WORKSPACE=str(workspace), PYTHONUNBUFFERED="1"))
    try:
        deadline = time.monotonic() + 120
        while not set(_raw_runs(workspace)) - before:
            assert process.poll() is None, f"training exited with {process.returncode} before recording its run"
            assert time.monotonic() < deadline, "the training process recorded no run within 120 s"
            time.sleep(0.05)
        [run_id] = set(_raw_runs(workspace)) - before
        yield process, run_id
    finally:
        process.kill()
        process.wait()


def _cli_runs(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "training", "runs", *args], capture_output=True, text=True, timeout=120,
                          env=subprocess_env(SKLEARN_WORKSPACE=str(workspace)))


def test_sigkilled_training_run_is_listed_as_killed_and_a_live_one_stays_running(tmp_path):
    workspace = tmp_path / "workspace"
    with _full_pipe() as stdout_fd, _stuck_training(workspace, stdout_fd) as (victim, victim_id), \
            _stuck_training(workspace, stdout_fd) as (survivor, survivor_id):
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=60) == -signal.SIGKILL
        killed_at = time.time()
        assert _raw_runs(workspace) == {victim_id: "running", survivor_id: "running"}  # as the dead process left it
        listed = _cli_runs(workspace, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        runs = {run["run_id"]: run for run in json.loads(listed.stdout)}
        assert runs[survivor_id]["status"] == "running" and runs[survivor_id]["ended_at"] is None
        assert survivor.poll() is None
        victim_run = runs[victim_id]
        assert victim_run["status"] == "killed" and victim_run["pid"] == victim.pid
        found = time.mktime(time.strptime(victim_run["ended_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert killed_at - 2 <= found <= time.time() + 1
        assert f"pid {victim.pid} on " in victim_run["error"] and "killed or crashed" in victim_run["error"]
    shown = _cli_runs(workspace, "show", survivor_id)  # its process is killed by now: found by `runs show` too
    assert shown.returncode == 0 and "status:      killed" in shown.stdout, shown.stdout + shown.stderr


def test_a_reused_pid_is_not_taken_for_the_recorded_process(workspace):
    history = RunHistory(workspace)
    me = ProcessIdentity.current()
    assert me.started is not None, "this test needs /proc"
    boot_id, ticks = me.started.split("/")
    alive = history.start("e").run_id
    reused = history.start("e", process=ProcessIdentity(me.pid, me.host, f"{boot_id}/{int(ticks) - 1}")).run_id
    after_reboot = history.start("e", process=ProcessIdentity(me.pid, me.host, f"another-boot/{ticks}")).run_id
    elsewhere = history.start("e", process=ProcessIdentity(me.pid, me.host + "-other", "x/1")).run_id
    statuses = {run.run_id: run.status for run in history.list()}
    assert statuses == {alive: "running", reused: "killed", after_reboot: "killed", elsewhere: "running"}


HIDEPID = 'mount -t proc -o hidepid=1 proc /proc && exec setpriv --regid=65534 --clear-groups --bounding-set=-all ' \
          '--inh-caps=-all "$@"'


def _under_hidepid(*argv: str) -> subprocess.CompletedProcess:
    """Run ``argv`` where /proc is mounted ``hidepid=1`` (a private mount namespace), as root without capabilities
    or the root group: other users' /proc/<pid> entries answer EPERM to it, as they do to an ordinary user."""
    return subprocess.run(["unshare", "--mount", "sh", "-c", HIDEPID, "hidepid", *argv], capture_output=True,
                          text=True, timeout=120, env=subprocess_env(SKLEARN_WORKSPACE=os.environ["SKLEARN_WORKSPACE"]))


@pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")),
                    reason="needs root, unshare and setpriv to mount a hidepid /proc")
def test_a_run_whose_proc_entry_cannot_be_read_is_not_taken_for_killed(workspace):
    history = RunHistory(workspace)
    host = ProcessIdentity.current().host
    dead = subprocess.Popen([PYTHON, "-c", "pass"])
    dead_token = start_token(dead.pid)
    dead.wait()
    other_user = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "120"])
    try:
        deadline = time.monotonic() + 30
        while Path(f"/proc/{other_user.pid}/status").read_text().count("65534") < 2:  # setpriv exec'd sleep
            assert time.monotonic() < deadline, "setpriv did not switch to uid 65534"
            time.sleep(0.01)
        alive = history.start("e", process=ProcessIdentity(other_user.pid, host, start_token(other_user.pid))).run_id
        gone = history.start("e", process=ProcessIdentity(dead.pid, host, dead_token or "gone/1")).run_id
        probe = _under_hidepid("cat", f"/proc/{other_user.pid}/stat")
        if "Operation not permitted" not in probe.stderr:
            pytest.skip(f"could not mount a hidepid /proc here: {probe.stderr.strip() or probe.stdout[:80]}")
        listed = _under_hidepid(PYTHON, "-m", "training", "runs", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        statuses = {run["run_id"]: run["status"] for run in json.loads(listed.stdout)}
        assert statuses == {alive: "running", gone: "killed"}
    finally:
        other_user.kill()
        other_user.wait()


FINISH_ON_CUE = """
import sys
from training.run_history import RunHistory
history = RunHistory(sys.argv[1])
run_id = history.start("e").run_id
print(run_id, flush=True)
sys.stdin.readline()
history.finish(run_id, "completed")
"""


@contextmanager
def _run_of_a_child(workspace: Path):
    """Yield the id of a run a child process recorded; on leaving, the child finishes the run and exits."""
    with subprocess.Popen([PYTHON, "-c", FINISH_ON_CUE, str(workspace)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=subprocess_env()) as child:
        try:
            run_id = child.stdout.readline().strip()
            assert run_id, "the child recorded no run"
            yield run_id
            child.stdin.write("finish\n")
            child.stdin.close()
            assert child.wait(timeout=120) == 0
        finally:
            child.kill()


def test_a_run_its_process_finished_before_exiting_is_listed_as_finished(workspace):
    with _run_of_a_child(workspace) as run_id:
        assert RunHistory(workspace).get(run_id).status == "running"
    history = RunHistory(workspace)
    assert [(run.run_id, run.status, run.error) for run in history.list()] == [(run_id, "completed", None)]
    assert history.get(run_id).status == "completed"


def test_a_finish_racing_a_listing_is_never_turned_into_killed(workspace, monkeypatch):
    """The listing reads the run as running; its process then finishes it and exits; only then does the listing
    check the process (gone) and write, so its UPDATE must apply to runs still running only."""
    listing_read, process_exited = threading.Event(), threading.Event()
    real_is_gone = ProcessIdentity.is_gone

    def is_gone_once_the_process_exited(process):
        listing_read.set()
        assert process_exited.wait(timeout=120)
        return real_is_gone(process)

    monkeypatch.setattr(ProcessIdentity, "is_gone", is_gone_once_the_process_exited)
    listings = []
    reader = threading.Thread(target=lambda: listings.append(RunHistory(workspace).list()))
    with _run_of_a_child(workspace) as run_id:
        reader.start()
        assert listing_read.wait(timeout=120), "the listing never checked the running run"
    process_exited.set()
    reader.join(timeout=120)
    assert [(run.run_id, run.status, run.error) for run in listings[0]] == [(run_id, "completed", None)]


def test_start_token_tells_a_zombie_from_a_live_process():
    child = subprocess.Popen(["sleep", "60"])
    try:
        token = start_token(child.pid)
        assert token is not None and start_token(child.pid) == token
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while start_token(child.pid) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert start_token(child.pid) is None  # a zombie until reaped: already gone
    finally:
        child.kill()
        child.wait()


OLD_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    params TEXT NOT NULL DEFAULT '{}', started_at TEXT NOT NULL, ended_at TEXT, error TEXT, outputs_dir TEXT,
    log_path TEXT);
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs (run_id), name TEXT NOT NULL,
    value TEXT NOT NULL, logged_at TEXT NOT NULL);
INSERT INTO runs VALUES ('old_1', 'exp', 'completed', '{"kernel": "rbf"}', '2026-01-01T00:00:00.000000Z',
                         '2026-01-01T00:01:00.000000Z', NULL, '/x/outputs', '/x/log.txt');
INSERT INTO runs (run_id, experiment, status, started_at) VALUES ('old_2', 'exp', 'running',
                                                                  '2026-01-02T00:00:00.000000Z');
INSERT INTO metrics (run_id, name, value, logged_at) VALUES ('old_1', 'Accuracy', '0.97', '2026-01-01T00:00:30Z');
"""


def test_a_workspace_of_the_previous_version_is_migrated_in_place(workspace):
    workspace.mkdir(parents=True)
    with sqlite3.connect(workspace / "workspace.db") as db:
        db.executescript(OLD_SCHEMA)
    history = RunHistory(workspace)
    old = history.get("old_1")
    assert (old.status, old.params, old.metrics, old.pid) == ("completed", {"kernel": "rbf"}, {"Accuracy": 0.97}, None)
    assert history.get("old_2").status == "running"  # no process recorded: nothing to check it against
    new = history.start("exp")
    history.log_metric(new.run_id, "Accuracy", 0.5)
    with connect(workspace) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert "runs_before_pid" not in {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        with pytest.raises(sqlite3.IntegrityError):  # the foreign key still points at runs
            db.execute("INSERT INTO metrics (run_id, name, value, logged_at) VALUES ('nope', 'a', '1', 'now')")
        db.execute("UPDATE runs SET status = 'killed' WHERE run_id = 'old_2'")  # the new CHECK allows it
    assert history.get(new.run_id).pid == os.getpid()
