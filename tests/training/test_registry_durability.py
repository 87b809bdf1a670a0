"""The registry across crashes (issue 14): a registration SIGKILLed at each step leaves its version complete or
absent, and the files, their directories and the SQLite COMMIT reach the disk in that order (system call traces)."""

import json
import shutil
import signal
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest
from training_helpers import PYTHON, subprocess_env

from training.db import connect
from training.errors import ModelNotFound
from training.registry import Registry
from training.staging import CRASH_AT_ENV, CRASH_POINTS

pytestmark = pytest.mark.slow
REGISTER = "import sys; from training.registry import Registry; Registry(sys.argv[1]).register('m', sys.argv[2])"


def _register_in_child(workspace: Path, source: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-c", REGISTER, str(workspace), str(source)], capture_output=True, text=True,
                          timeout=120, env=subprocess_env(**env))


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_registration_killed_at_each_step_leaves_the_version_complete_or_absent(workspace, iris_model_dir, point):
    registry = Registry(workspace)
    registry.register("m", iris_model_dir)
    died = _register_in_child(workspace, iris_model_dir, **{CRASH_AT_ENV: point})
    assert died.returncode == -signal.SIGKILL, died.stderr

    expected = [1, 2] if point == "committed" else [1]
    assert [record.version for record in registry.list(name="m")] == expected
    for version in expected:  # complete: every listed version verifies against its recorded sha256
        assert registry.get("m", version).path.is_dir()
    if point != "committed":  # absent: no row, whatever files the dead process left
        with pytest.raises(ModelNotFound, match="has no version 2"):
            registry.get("m", 2)
    with sqlite3.connect(workspace / "workspace.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    following = registry.register("m", iris_model_dir)  # the next registration takes over what was left
    assert following.version == expected[-1] + 1 and registry.get("m", following.version) == following
    assert list((workspace / "tmp").iterdir()) == []
    assert sorted(int(p.name) for p in (workspace / "models" / "m").iterdir()) == [*expected, following.version]


TRACED_REGISTER = textwrap.dedent("""
    import json, os, sqlite3, sys

    events = []
    real_fsync, real_rename, real_replace, real_connect = os.fsync, os.rename, os.replace, sqlite3.connect

    def fsync(fd):
        real_fsync(fd)
        events.append(["fsync", os.readlink(f"/proc/self/fd/{fd}")])

    def rename(source, target):
        real_rename(source, target)
        events.append(["rename", str(source), str(target)])

    def replace(source, target):
        real_replace(source, target)
        events.append(["rename", str(source), str(target)])

    def connect(*args, **kwargs):  # the real SQLite, with its statements traced
        connection = real_connect(*args, **kwargs)
        connection.set_trace_callback(lambda sql: events.append(["sql", sql.split()[0].upper()]))
        return connection

    os.fsync, os.rename, os.replace, sqlite3.connect = fsync, rename, replace, connect
    from training.registry import Registry
    record = Registry(sys.argv[1]).register("m", sys.argv[2])
    print(json.dumps({"path": str(record.path), "events": events}))
""")


def _index(events: list, wanted: list, after: int = -1) -> int:
    for i, event in enumerate(events):
        if i > after and event == wanted:
            return i
    raise AssertionError(f"{wanted} not found after event {after} in:\n" + "\n".join(map(str, events)))


def test_files_then_directories_then_commit_are_synced_in_order(workspace, iris_model_dir):
    result = subprocess.run([PYTHON, "-c", TRACED_REGISTER, str(workspace), str(iris_model_dir)],
                            capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert result.returncode == 0, result.stderr
    traced = json.loads(result.stdout)
    events, final = traced["events"], traced["path"]
    [moved] = [event for event in events if event[0] == "rename" and event[2] == final]
    staging = moved[1]
    renamed = events.index(moved)
    synced_json = _index(events, ["fsync", f"{staging}/model.json.partial"])
    assert synced_json < _index(events, ["rename", f"{staging}/model.json.partial", f"{staging}/model.json"])
    assert _index(events, ["fsync", f"{staging}/model.joblib"]) < renamed
    assert _index(events, ["fsync", staging], after=synced_json) < renamed  # the rewritten model.json's entry
    parent_synced = _index(events, ["fsync", str(Path(final).parent)], after=renamed)
    commit = _index(events, ["sql", "COMMIT"], after=renamed)
    assert parent_synced < commit
    with connect(workspace) as db:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: the WAL is synced at every COMMIT


REGISTER_THEN_MARK = textwrap.dedent("""
    import os, sys
    from training.db import connect
    from training.registry import Registry
    # Held open, so closing the registration's connection is not the last close: no checkpoint syncs the WAL for it.
    with connect(sys.argv[1]):
        Registry(sys.argv[1]).register("m", sys.argv[2])
        os.fsync(os.open(sys.argv[3], os.O_RDONLY))  # marks "register() has returned" in the trace
""")


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to trace the real system calls")
def test_the_kernel_sees_the_syncs_before_sqlite_syncs_its_commit(workspace, iris_model_dir, tmp_path):
    trace, marker = tmp_path / "trace", tmp_path / "returned"
    marker.touch()
    result = subprocess.run(["strace", "-f", "-qq", "-y", "-o", str(trace), "-e",
                             "trace=fsync,fdatasync,rename,renameat,renameat2", PYTHON, "-c", REGISTER_THEN_MARK,
                             str(workspace), str(iris_model_dir), str(marker)], capture_output=True, text=True,
                            timeout=300, env=subprocess_env())
    assert result.returncode == 0, result.stderr
    lines = trace.read_text().splitlines()
    final = str(workspace / "models" / "m" / "1")

    def first(condition, after: int = -1) -> int:
        found = [i for i, line in enumerate(lines) if i > after and condition(line)]
        trace_text = "\n".join(lines)
        assert found, f"no such line after {after} in the trace:\n{trace_text}"
        return found[0]

    renamed = first(lambda line: "rename" in line and f'"{final}"' in line)
    staging = lines[renamed].split('"')[1]
    assert first(lambda line: "fsync(" in line and f"<{staging}/model.joblib>" in line) < renamed
    parent_synced = first(lambda line: "fsync(" in line and line.split("<", 1)[1].startswith(f"{Path(final).parent}>"),
                          after=renamed)
    wal_synced = first(lambda line: "sync(" in line and "workspace.db-wal>" in line, after=parent_synced)
    returned = first(lambda line: "fsync(" in line and f"<{marker}>" in line)
    assert renamed < parent_synced < wal_synced < returned  # the COMMIT was on disk when register() returned
