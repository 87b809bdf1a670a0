"""The local workspace: where it is, and connections to its SQLite database (DDL in schema.sql)."""

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from training.errors import WorkspaceUnavailable

WORKSPACE_ENV = "SKLEARN_WORKSPACE"
_SCHEMA = Path(__file__).with_name("schema.sql")


def workspace_path() -> Path:
    """``$SKLEARN_WORKSPACE`` if set, else ``<repository root>/.workspace``."""
    configured = os.environ.get(WORKSPACE_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / ".workspace"


@contextmanager
def connect(workspace: Path) -> Iterator[sqlite3.Connection]:
    """Open ``<workspace>/workspace.db`` (created with the schema when absent) in autocommit mode; close on exit.

    Callers open write transactions explicitly with ``BEGIN IMMEDIATE``; WAL mode and a long busy timeout let
    several processes (parallel sweeps, concurrent registrations) share the file; every COMMIT is synced to disk.

    Raises ``WorkspaceUnavailable`` when the directory or database cannot be created or opened.
    """
    workspace = Path(workspace)
    try:
        workspace.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(workspace / "workspace.db", timeout=60, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise _unavailable(workspace, exc) from exc
    connection.row_factory = sqlite3.Row
    try:
        try:
            connection.execute("PRAGMA busy_timeout = 60000")
            connection.execute("PRAGMA foreign_keys = ON")
            # WAL's default (NORMAL) syncs only at checkpoints: a COMMIT could be lost on power loss. FULL syncs the
            # WAL at every COMMIT, so a registration acknowledged is one on disk.
            connection.execute("PRAGMA synchronous = FULL")
            with _init_lock(workspace):
                connection.execute("PRAGMA journal_mode = WAL")
                schema = _SCHEMA.read_text()
                connection.executescript(schema)
                _migrate(connection, schema)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise _unavailable(workspace, exc) from exc
        yield connection
    finally:
        connection.close()


def _migrate(connection: sqlite3.Connection, schema: str) -> None:
    """Give a ``runs`` table made before runs recorded their process the columns and statuses of schema.sql.

    SQLite cannot change a CHECK constraint in place, so the table is renamed, made anew by schema.sql and refilled, in
    one transaction. ``legacy_alter_table`` keeps the metrics table's foreign key naming ``runs``, not the old table.
    """
    columns = {row["name"] for row in connection.execute("PRAGMA table_info(runs)")}
    if "pid" in columns:
        return
    kept = ", ".join(sorted(columns))
    connection.execute("PRAGMA foreign_keys = OFF")
    connection.execute("PRAGMA legacy_alter_table = ON")
    try:
        connection.executescript(
            f"BEGIN IMMEDIATE; ALTER TABLE runs RENAME TO runs_before_pid; {schema};"
            f"INSERT INTO runs ({kept}) SELECT {kept} FROM runs_before_pid; DROP TABLE runs_before_pid; COMMIT;")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.execute("PRAGMA legacy_alter_table = OFF")
        connection.execute("PRAGMA foreign_keys = ON")


@contextmanager
def _init_lock(workspace: Path) -> Iterator[None]:
    """Serialise the WAL switch and the schema script across processes.

    SQLite answers "database is locked" at once, without waiting for busy_timeout, when two connections switch a new
    database to WAL at the same moment, so the first connections of parallel processes take turns here.
    """
    with open(workspace / "workspace.db.init-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _unavailable(workspace: Path, exc: Exception) -> WorkspaceUnavailable:
    return WorkspaceUnavailable(f"Cannot open the workspace database in '{workspace}': {exc}. Point "
                                f"{WORKSPACE_ENV} at a writable directory (default: <repository>/.workspace).")


def utc_now() -> str:
    """The current time as ISO 8601 UTC with microseconds, e.g. ``2026-11-28T10:00:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
