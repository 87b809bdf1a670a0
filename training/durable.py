"""Putting files on disk for good before the database says they exist: fsync of files, then of their directories.

A rename or a new file is only durable once its directory is fsynced; a file's data once the file is. The registry
syncs a new version's files and directories before its SQLite COMMIT (itself synced: synchronous=FULL in WAL mode),
so after a power loss a registered version is complete, and one whose COMMIT was not reached is absent.
"""

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync the file or directory at ``path``."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(root: Path) -> None:
    """fsync every file under ``root``, then every directory, deepest first, ``root`` last."""
    for directory, _, files in os.walk(root, topdown=False):
        for name in sorted(files):
            fsync_path(Path(directory) / name)
        fsync_path(Path(directory))
