"""Staging copies for registration: a model directory copied into a locked temporary directory of the workspace.

A copy whose lock nobody holds belongs to a registration that died (SIGKILL, power loss); the next registration
removes it, so a killed registration leaves nothing behind.
"""

import fcntl
import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from training.durable import fsync_tree

# The one test seam of registration: the name of the step (see CRASH_POINTS) at which the registering process
# SIGKILLs itself. Only tests set it, to check that a registration dying at each step leaves its version complete or
# absent; unset (the default) it costs an environment lookup per step.
CRASH_AT_ENV = "SKLEARN_REGISTRY_CRASH_AT"
CRASH_POINTS = ("file-copied", "copied", "sidecar-written", "renamed", "committed")


@contextmanager
def staged_copy(source: Path, tmp_root: Path) -> Iterator[Path]:
    """Copy ``source`` to a new directory under ``tmp_root``, held under an exclusive lock; yield its path.

    The caller may rename the directory away (into the registry); whatever is left is removed on exit.
    Abandoned copies of dead processes are removed first. The copy is fsynced (files, then directories) before it is
    yielded.
    """
    tmp_root.mkdir(parents=True, exist_ok=True)
    remove_abandoned(tmp_root)
    token = f"reg-{uuid.uuid4().hex}"
    staging, lock_path = tmp_root / token, tmp_root / f"{token}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _copy_tree(Path(source), staging)
            fsync_tree(staging)
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            lock_path.unlink(missing_ok=True)


def remove_abandoned(tmp_root: Path) -> None:
    """Remove every staging copy under ``tmp_root`` whose lock is not held by a live process."""
    for lock_path in tmp_root.glob("reg-*.lock"):
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(tmp_root / lock_path.stem, ignore_errors=True)
            lock_path.unlink(missing_ok=True)


def crash_point(step: str) -> None:
    """SIGKILL this process when ``CRASH_AT_ENV`` names ``step`` (one of CRASH_POINTS)."""
    if os.environ.get(CRASH_AT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _copy_tree(source: Path, target: Path) -> None:
    # File by file in sorted order (not shutil.copytree) so "file-copied" stops the copy after a known file.
    target.mkdir()
    for directory, subdirs, files in os.walk(source):
        subdirs.sort()
        relative = Path(directory).relative_to(source)
        (target / relative).mkdir(exist_ok=True)
        for file_name in sorted(files):
            shutil.copy2(Path(directory) / file_name, target / relative / file_name)
            crash_point("file-copied")
