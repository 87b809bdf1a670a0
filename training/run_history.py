"""Local run history: runs (id, experiment, params, status, times, log, outputs, process) and their metrics in SQLite.

A run whose process died without recording an end (SIGKILL, power loss, OOM killer) is found by the next read: its
recorded process is gone, so it is marked ``killed`` with the time it was found as ``ended_at``.
"""

import json
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from training.db import connect, utc_now
from training.errors import RunNotFound
from training.processes import ProcessIdentity


@dataclass(frozen=True)
class RunRecord:
    """One recorded run. ``metrics`` maps each metric name to its last logged value; ``pid`` and ``host`` name the
    process that ran it (None for runs recorded before processes were)."""

    run_id: str
    experiment: str
    status: str
    params: dict
    metrics: dict
    started_at: str
    ended_at: str | None
    error: str | None
    outputs_dir: Path | None
    log_path: Path | None
    pid: int | None = None
    host: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready form (paths as strings)."""
        data = asdict(self)
        for key in ("outputs_dir", "log_path"):
            data[key] = str(data[key]) if data[key] is not None else None
        return data


class RunRecorder:
    """The metric logger a local run hands to train.py: same methods as the Azure run adapter."""

    def __init__(self, history: "RunHistory", run_id: str):
        self.history = history
        self.run_id = run_id

    def log(self, name: str, value) -> None:
        """Record one scalar metric in the run history."""
        self.history.log_metric(self.run_id, name, value)

    def log_confusion_matrix(self, name: str, value: dict) -> None:
        """Record a confusion-matrix table in the run history."""
        self.history.log_metric(self.run_id, name, value)


class RunHistory:
    """Run records of the workspace at ``workspace`` (``<workspace>/workspace.db``, ``<workspace>/runs/<id>/``)."""

    def __init__(self, workspace: Path):
        self.workspace = Path(workspace).absolute()

    def run_dir(self, run_id: str) -> Path:
        """The artifact directory of a run: ``<workspace>/runs/<run id>``."""
        return self.workspace / "runs" / run_id

    def start(self, experiment: str, params: dict | None = None,
              process: ProcessIdentity | None = None) -> RunRecord:
        """Create a run with status ``running`` and a new id like Azure's (``<experiment>_<unix time>_<8 hex>``).

        ``process`` (default: this one) is the process that runs it and will finish it; while the run is
        ``running``, reads check that this process is still alive.
        """
        run_id = f"{experiment}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
        process = process or ProcessIdentity.current()
        with connect(self.workspace) as db:
            db.execute("INSERT INTO runs (run_id, experiment, status, params, started_at, pid, host, process_started)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (run_id, experiment, "running", json.dumps(params or {}), utc_now(), process.pid,
                        process.host, process.started))
        self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
        return self.get(run_id)

    def recorder(self, run_id: str) -> RunRecorder:
        """A metric logger writing to run ``run_id``."""
        return RunRecorder(self, run_id)

    def log_metric(self, run_id: str, name: str, value) -> None:
        """Append a metric value (JSON-serialisable scalar or table) to a run.

        Raises ``RunNotFound`` for an unknown run and ``TypeError`` for a value JSON cannot encode.
        """
        encoded = json.dumps(value, allow_nan=True)
        with connect(self.workspace) as db:
            self._require(db, run_id)
            db.execute("INSERT INTO metrics (run_id, name, value, logged_at) VALUES (?, ?, ?, ?)",
                       (run_id, name, encoded, utc_now()))

    def attach(self, run_id: str, *, log_text: str | None = None, outputs_dir: Path | None = None) -> None:
        """Store the captured log as ``<run dir>/log.txt`` and/or record where the run's outputs are."""
        with connect(self.workspace) as db:
            self._require(db, run_id)
            if log_text is not None:
                log_path = self.run_dir(run_id) / "log.txt"
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(log_text)
                db.execute("UPDATE runs SET log_path = ? WHERE run_id = ?", (str(log_path), run_id))
            if outputs_dir is not None:
                db.execute("UPDATE runs SET outputs_dir = ? WHERE run_id = ?",
                           (str(Path(outputs_dir).resolve()), run_id))

    def finish(self, run_id: str, status: str, error: str | None = None) -> RunRecord:
        """Mark a run ``completed`` or ``failed`` (with ``error``) and stamp its end time.

        Raises ``ValueError`` for another status, ``RunNotFound`` for an unknown run.
        """
        if status not in ("completed", "failed"):
            raise ValueError(f"A run finishes as 'completed' or 'failed', got {status!r}.")
        with connect(self.workspace) as db:
            self._require(db, run_id)
            db.execute("UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE run_id = ?",
                       (status, utc_now(), error, run_id))
        return self.get(run_id)

    def get(self, run_id: str) -> RunRecord:
        """The run ``run_id`` with its latest metrics (``killed`` if its process is gone). Raises ``RunNotFound``."""
        with connect(self.workspace) as db:
            self._mark_killed(db, run_id)
            row = self._require(db, run_id)
            return self._record(db, row)

    def list(self, experiment: str | None = None) -> list[RunRecord]:
        """All runs (of ``experiment`` when given), oldest first; runs whose process is gone are marked ``killed``."""
        with connect(self.workspace) as db:
            self._mark_killed(db)
            query, args = "SELECT * FROM runs", ()
            if experiment is not None:
                query, args = query + " WHERE experiment = ?", (experiment,)
            rows = db.execute(query + " ORDER BY started_at, run_id", args).fetchall()
            return [self._record(db, row) for row in rows]

    @staticmethod
    def _mark_killed(db, run_id: str | None = None) -> None:
        """Mark ``running`` runs (all, or ``run_id``) whose recorded process is gone as ``killed``, found now."""
        query = "SELECT run_id, pid, host, process_started FROM runs WHERE status = 'running' AND pid IS NOT NULL"
        rows = db.execute(query + " AND run_id = ?", (run_id,)) if run_id else db.execute(query)
        for row in rows.fetchall():
            process = ProcessIdentity(row["pid"], row["host"], row["process_started"])
            if not process.is_gone():
                continue
            found = utc_now()
            # "AND status = 'running'": a run its process finished meanwhile keeps the status it recorded.
            db.execute("UPDATE runs SET status = 'killed', ended_at = ?, error = ? WHERE run_id = ? AND status = ?",
                       (found, f"The run's process (pid {process.pid} on {process.host}) had ended without "
                        f"recording an end when checked at {found}: it was killed or crashed.", row["run_id"],
                        "running"))

    def _require(self, db, run_id: str):
        row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"No run with id '{run_id}' in the workspace at {self.workspace}. "
                              f"`python -m training runs list` shows the recorded runs.")
        return row

    @staticmethod
    def _record(db, row) -> RunRecord:
        metrics = {}
        for metric in db.execute("SELECT name, value FROM metrics WHERE run_id = ? ORDER BY id", (row["run_id"],)):
            metrics[metric["name"]] = json.loads(metric["value"])
        return RunRecord(
            run_id=row["run_id"], experiment=row["experiment"], status=row["status"], params=json.loads(row["params"]),
            metrics=metrics, started_at=row["started_at"], ended_at=row["ended_at"], error=row["error"],
            outputs_dir=Path(row["outputs_dir"]) if row["outputs_dir"] else None,
            log_path=Path(row["log_path"]) if row["log_path"] else None, pid=row["pid"], host=row["host"],
        )
