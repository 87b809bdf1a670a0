"""Local model registry with Azure ML ``Model`` semantics: immutable, versioned, verified copies of model directories.

Registration copies the directory into ``<workspace>/tmp/`` (training/staging.py) outside any lock, then
allocates the version inside ``BEGIN IMMEDIATE``, renames the copy to ``<workspace>/models/<name>/<version>`` and
inserts the row in that same transaction: an entry is complete or absent, whatever process dies when. Files and
directories are fsynced before the COMMIT (training/durable.py), so that holds after a power loss too.
"""

import json
import math
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from training.db import connect, utc_now
from training.durable import fsync_path
from training.errors import InvalidArgument, InvalidModelDir, ModelNotFound, TamperedModel
from training.model_dir import check_model_dir, read_sidecar, sha256_file, write_sidecar
from training.staging import crash_point, staged_copy

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True)
class ModelRecord:
    """One registered model version; ``path`` is its immutable model directory."""

    name: str
    version: int
    path: Path
    sha256: str
    run_id: str | None
    tags: dict
    properties: dict
    description: str | None
    model_framework: str
    model_framework_version: str | None
    resource_configuration: dict | None
    created_at: str

    def to_dict(self) -> dict:
        """JSON-ready form (path as a string)."""
        return {**asdict(self), "path": str(self.path)}


class Registry:
    """The model registry of the workspace at ``workspace`` (``workspace.db`` + ``models/<name>/<version>/``)."""

    def __init__(self, workspace: Path):
        self.workspace = Path(workspace).absolute()

    def register(self, name: str, path: Path, *, tags: dict | None = None, properties: dict | None = None,
                 description: str | None = None, model_framework: str = "ScikitLearn",
                 model_framework_version: str | None = None, resource_configuration: dict | None = None,
                 run_id: str | None = None) -> ModelRecord:
        """Copy the model directory ``path`` into the registry as the next version of ``name``.

        The copy's model.json gains ``registration`` (name, version, registered_at). ``run_id`` and
        ``model_framework_version`` default to model.json's ``run_id`` and ``sklearn_version``.

        Raises
        ------
        InvalidArgument
            Bad name, tags, properties or resource_configuration.
        InvalidModelDir
            ``path`` is not a consistent model directory (its sha256 is checked before copying).
        """
        check_name(name)
        tags, properties = _check_strings("tags", tags), _check_strings("properties", properties)
        resources = _check_resources(resource_configuration)
        sidecar = check_model_dir(path)
        with staged_copy(Path(path), self.workspace / "tmp") as staging:
            if sha256_file(staging / sidecar["model_file"]) != sidecar["sha256"]:
                raise InvalidModelDir(f"'{path}' changed while it was being registered; register it again.")
            crash_point("copied")
            return self._commit(name, staging, sidecar, tags, properties, description, model_framework,
                                model_framework_version or sidecar.get("sklearn_version"), resources,
                                run_id if run_id is not None else sidecar.get("run_id"))

    def get(self, name: str, version: int | None = None) -> ModelRecord:
        """The model ``name`` at ``version`` (latest when None), after checking its files against the registry.

        Raises
        ------
        ModelNotFound
            No such name or version.
        TamperedModel
            The stored model file or model.json no longer matches what was registered.
        """
        with connect(self.workspace) as db:
            if version is None:
                query, args = "SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            else:
                query, args = "SELECT * FROM models WHERE name = ? AND version = ?", (name, version)
            row = db.execute(query, args).fetchone()
            if row is None:
                raise ModelNotFound(self._not_found_message(db, name, version))
        record = self._record(row)
        self._verify(record)
        return record

    def list(self, name: str | None = None, tags: dict | None = None,
             properties: dict | None = None) -> list[ModelRecord]:
        """Registered models ordered by name and version, filtered by name and by tags/properties (all must match)."""
        with connect(self.workspace) as db:
            if name is None:
                rows = db.execute("SELECT * FROM models ORDER BY name, version").fetchall()
            else:
                rows = db.execute("SELECT * FROM models WHERE name = ? ORDER BY version", (name,)).fetchall()
        records = [self._record(row) for row in rows]
        return [r for r in records if _matches(r.tags, tags) and _matches(r.properties, properties)]

    def _commit(self, name, staging, sidecar, tags, properties, description, framework, framework_version,
                resources, run_id) -> ModelRecord:
        with connect(self.workspace) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?",
                                     (name,)).fetchone()[0]
                relative = Path("models") / name / str(version)
                target = self.workspace / relative
                if target.exists():
                    # No row owns this version, so it is a copy renamed by a process killed before COMMIT.
                    shutil.rmtree(target)
                created_at = utc_now()
                registration = {"name": name, "version": version, "registered_at": created_at}
                write_sidecar(staging, {**sidecar, "registration": registration})
                crash_point("sidecar-written")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging, target)
                # The new entry, and the directories mkdir may have made, reach the disk before the row can.
                for directory in (target.parent, target.parent.parent, self.workspace, staging.parent):
                    fsync_path(directory)
                crash_point("renamed")
                db.execute(
                    "INSERT INTO models (name, version, path, sha256, run_id, tags, properties, description,"
                    " model_framework, model_framework_version, resource_configuration, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, version, str(relative), sidecar["sha256"], run_id, json.dumps(tags),
                     json.dumps(properties), description, framework, framework_version,
                     json.dumps(resources) if resources is not None else None, created_at))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            crash_point("committed")
            return self._record(db.execute("SELECT * FROM models WHERE name = ? AND version = ?",
                                           (name, version)).fetchone())

    def _verify(self, record: ModelRecord) -> None:
        label = f"Model '{record.name}' version {record.version} at '{record.path}'"
        try:
            sidecar = read_sidecar(record.path)
        except InvalidModelDir as exc:
            raise TamperedModel(f"{label} is damaged: {exc} Register the model again.") from exc
        actual = sha256_file(record.path / sidecar["model_file"])
        registration = sidecar.get("registration") or {}
        if actual != record.sha256 or sidecar["sha256"] != record.sha256:
            raise TamperedModel(
                f"{label}: {sidecar['model_file']} has sha256 {actual[:12]}… but the registry recorded "
                f"{record.sha256[:12]}… at registration; the artifact was modified and will not be used. "
                f"Register the model again.")
        if (registration.get("name"), registration.get("version")) != (record.name, record.version):
            raise TamperedModel(f"{label}: model.json says it is {registration.get('name')!r} version "
                                f"{registration.get('version')!r}; the directory was replaced. "
                                f"Register the model again.")

    def _record(self, row) -> ModelRecord:
        return ModelRecord(
            name=row["name"], version=row["version"], path=self.workspace / row["path"], sha256=row["sha256"],
            run_id=row["run_id"], tags=json.loads(row["tags"]), properties=json.loads(row["properties"]),
            description=row["description"], model_framework=row["model_framework"],
            model_framework_version=row["model_framework_version"],
            resource_configuration=json.loads(row["resource_configuration"]) if row["resource_configuration"] else None,
            created_at=row["created_at"])

    def _not_found_message(self, db, name, version) -> str:
        versions = [r[0] for r in db.execute("SELECT version FROM models WHERE name = ? ORDER BY version", (name,))]
        if versions:
            return (f"Model '{name}' has no version {version}; registered versions are "
                    f"{', '.join(map(str, versions))}.")
        names = [r[0] for r in db.execute("SELECT DISTINCT name FROM models ORDER BY name")]
        known = f"Registered models are: {', '.join(names)}." if names else "The registry is empty."
        return (f"No model named '{name}' in the registry at {self.workspace}. {known} Train and register one with "
                f"`python -m training train --register {name}`.")


def _matches(values: dict, wanted: dict | None) -> bool:
    return all(values.get(key) == value for key, value in (wanted or {}).items())


def check_name(name: str) -> None:
    """Raise ``InvalidArgument`` unless ``name`` is a valid model name (Azure ML's rule: 1-255 of [A-Za-z0-9._-])."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidArgument(f"Invalid model name {name!r}: expected 1-255 letters, digits, '.', '_' or '-', "
                              f"starting with a letter or digit.")


def _check_strings(what: str, values: dict | None) -> dict:
    values = dict(values or {})
    for key, value in values.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise InvalidArgument(f"{what} must map non-empty strings to strings, got {key!r}: {value!r}.")
    return values


def _check_resources(resources: dict | None) -> dict | None:
    if resources is None:
        return None
    unknown = set(resources) - {"cpu", "memory_in_gb", "gpu"}
    if unknown:
        raise InvalidArgument(f"resource_configuration has unknown keys {sorted(unknown)}; expected cpu, "
                              f"memory_in_gb and optionally gpu.")
    for key, value in resources.items():
        usable = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf
        if value is not None and not usable:
            raise InvalidArgument(f"resource_configuration {key} must be a number > 0, got {value!r}.")
    return dict(resources)
