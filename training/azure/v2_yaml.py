"""SDK v2 entities as ``az ml`` YAML: what the v2 dry run prints and ``--emit-yaml DIR`` writes.

azure-ai-ml dumps local paths (``code``, a local model's ``path``, a local input file) as absolute paths of this
machine, whatever the entity holds; here they are written relative to the YAML file's folder (``az ml`` and
``azure.ai.ml.load_*`` resolve them from there), so the files can be committed and used from CI.
"""

import json
import os
import shutil
from pathlib import Path

from training.azure.sdk import require_sdk

# File names of the emitted documents, by the kind of entity (``az ml <kind> create -f <file>``).
FILE_NAMES = {"Environment": "environment.yml", "Command": "job.yml", "SweepJob": "sweep.yml",
              "Model": "model.yml", "ManagedOnlineEndpoint": "endpoint.yml",
              "ManagedOnlineDeployment": "deployment.yml", "BatchEndpoint": "endpoint.yml",
              "ModelBatchDeployment": "deployment.yml"}
DEPLOYMENT_CODE = "deployment-code"


def to_dict(entity, base: Path) -> dict:
    """The entity's YAML mapping (what its ``dump`` writes) with local paths made relative to ``base``."""
    if type(entity).__name__ == "Command":
        entity = entity._to_job()  # a command() builder's own job form, the `az ml job` YAML
    data = json.loads(json.dumps(entity._to_dict(), default=str))  # plain dicts; _to_dict is what dump() writes
    holders = [data, data.get("trial"), data.get("code_configuration")]
    path_keys = ["code"] + (["path"] if type(entity).__name__ == "Model" else [])
    for holder in holders:
        for key in path_keys:
            if isinstance(holder, dict) and isinstance(holder.get(key), str) and os.path.isabs(holder[key]):
                holder[key] = os.path.relpath(holder[key], base)
    inputs = getattr(entity, "inputs", None) or {}
    for name, value in (data.get("inputs") or {}).items():
        _relative_input(value, getattr(inputs.get(name), "path", None), base)
    return data


def _relative_input(value, path, base: Path) -> None:
    """An input whose own ``path`` is a local file or folder, written relative to ``base`` (``value``, in place).

    azure-ai-ml dumps such a path (``--data file.csv``) as ``azureml:<path>``, which ``az ml`` would read as a
    registered asset; ``path`` is absolute as built, or relative to ``base`` as loaded back from the file.
    """
    if (isinstance(value, dict) and isinstance(path, str) and not path.startswith("azureml:")
            and (base / path).exists()):
        value["path"] = os.path.relpath(base / path, base)


def to_yaml(entity, base: Path | None = None) -> str:
    """The entity as ``az ml`` YAML with local paths relative to ``base`` (default: the working directory)."""
    yaml = require_sdk("yaml", sdk="v2")  # PyYAML comes with azure-ai-ml; it is not a training requirement
    return yaml.safe_dump(to_dict(entity, Path(base or os.getcwd())), default_flow_style=False, sort_keys=True)


def describe(entities: list) -> str:
    """The YAML of each entity under a ``--- <file name> ---`` header: the v2 dry run's output."""
    return "\n".join(f"--- {FILE_NAMES[type(e).__name__]} ---\n{to_yaml(e).rstrip()}" for e in entities)


def write_yaml(entities: list, directory: Path) -> list[Path]:
    """Write each entity to ``directory/<file name>``; a deployment's staged code is copied beside it first.

    Returns the files written, in order.
    """
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for entity in entities:
        code = getattr(entity, "code_configuration", None)
        if code is not None and code.code and os.path.isabs(str(code.code)):
            target = directory / DEPLOYMENT_CODE
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(code.code, target)
            code.code = str(target)
        path = directory / FILE_NAMES[type(entity).__name__]
        path.write_text(to_yaml(entity, directory))
        written.append(path)
    return written
