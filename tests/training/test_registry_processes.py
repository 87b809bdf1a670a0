"""The registry across real processes: concurrent registrations, and a registration killed with SIGKILL mid-copy."""

import shutil
import signal
import subprocess
import textwrap
import time

import pytest
from training_helpers import PYTHON, subprocess_env

from training.registry import Registry
from training.staging import CRASH_AT_ENV

REGISTER_LOOP = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from training.registry import Registry
    workspace, source, me, go, count = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), \\
        int(sys.argv[5])
    registry = Registry(workspace)
    me.touch()
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(count):
        print(registry.register("m", source).version, flush=True)
""")

REGISTER_ONCE = "import sys; from training.registry import Registry; Registry(sys.argv[1]).register('big', sys.argv[2])"


def _wait_for(condition, what: str, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_two_processes_registering_20_each_get_40_distinct_versions(workspace, iris_model_dir, tmp_path):
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    workers = [subprocess.Popen([PYTHON, "-c", REGISTER_LOOP, str(workspace), str(iris_model_dir), str(r), str(go),
                                 "20"], env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for r in ready]
    try:
        _wait_for(lambda: all(r.exists() for r in ready), "both workers to start")
        go.touch()
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert [worker.returncode for worker in workers] == [0, 0], [err for _, err in outputs]
    got = [[int(line) for line in out.split()] for out, _ in outputs]
    assert [len(versions) for versions in got] == [20, 20]
    assert sorted(got[0] + got[1]) == list(range(1, 41))
    registry = Registry(workspace)
    assert [r.version for r in registry.list(name="m")] == list(range(1, 41))
    assert all(registry.get("m", version).path.is_dir() for version in range(1, 41))  # each one verifies
    assert sorted(int(p.name) for p in (workspace / "models" / "m").iterdir()) == list(range(1, 41))
    assert list((workspace / "tmp").iterdir()) == []


def test_registration_killed_mid_copy_leaves_nothing(workspace, iris_model_dir, tmp_path):
    source = shutil.copytree(iris_model_dir, tmp_path / "big-model")
    (source / "a-large-file.bin").write_bytes(b"\1" * (8 << 20))  # copied first: files go in sorted order
    worker = subprocess.run([PYTHON, "-c", REGISTER_ONCE, str(workspace), str(source)], timeout=120,
                            env=subprocess_env(**{CRASH_AT_ENV: "file-copied"}))
    assert worker.returncode == -signal.SIGKILL
    [staging] = [p for p in (workspace / "tmp").iterdir() if p.is_dir()]
    assert (staging / "a-large-file.bin").stat().st_size == 8 << 20
    assert not (staging / "model.json").exists()  # it really died mid-copy
    registry = Registry(workspace)
    assert registry.list() == []
    assert not (workspace / "models").exists()

    record = registry.register("big", source)  # the next registration sweeps the abandoned copy
    assert record.version == 1 and registry.get("big") == record
    assert list((workspace / "tmp").iterdir()) == []
    assert (record.path / "a-large-file.bin").stat().st_size == 8 << 20
