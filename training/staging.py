"""Staging copies for registration: a model directory copied into a locked temporary directory of the workspace.

A copy whose lock nobody holds belongs to a registration that died (SIGKILL, power loss); the next registration
removes it, so a killed registration leaves nothing behind.
"""

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from training.durable import fsync_tree

# Seconds to sleep after copying each file. Only tests set it, to kill a registration deterministically while its
# copy is in progress; unset (the default) it costs nothing.
COPY_PAUSE_ENV = "SKLEARN_REGISTRY_COPY_PAUSE_S"


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


def _copy_tree(source: Path, target: Path) -> None:
    # File by file in sorted order (not shutil.copytree) so the test hook pauses at a known point.
    pause = float(os.environ.get(COPY_PAUSE_ENV) or 0)
    target.mkdir()
    for directory, subdirs, files in os.walk(source):
        subdirs.sort()
        relative = Path(directory).relative_to(source)
        (target / relative).mkdir(exist_ok=True)
        for file_name in sorted(files):
            shutil.copy2(Path(directory) / file_name, target / relative / file_name)
            if pause:
                time.sleep(pause)
