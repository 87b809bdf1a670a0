"""training/sklearn-env.yml (the Azure training environment) pins the same versions as requirements*.txt (issue 5).

The conda file is read with azureml-core's own CondaDependencies, i.e. exactly as Azure ML reads it.
"""

from pathlib import Path

from azureml.core.conda_dependencies import CondaDependencies
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from training.azure.sdk import quiet_vendored_yaml

ROOT = Path(__file__).resolve().parents[3]
ENV_FILE = ROOT / "training" / "sklearn-env.yml"
MUST_AGREE = {"scikit-learn", "numpy", "joblib", "skops"}


def _requirements(path: Path) -> dict[str, Requirement]:
    """Every requirement of a pip requirements file, following `-r` includes, by canonical name."""
    found: dict[str, Requirement] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r"):
            found.update(_requirements(path.parent / line[2:].strip()))
            continue
        req = Requirement(line)
        found[canonicalize_name(req.name)] = req
    return found


def _conda_dependencies() -> CondaDependencies:
    with quiet_vendored_yaml():
        return CondaDependencies(str(ENV_FILE))


def _env_pip_requirements() -> dict[str, Requirement]:
    reqs = (Requirement(spec) for spec in _conda_dependencies().pip_packages)
    return {canonicalize_name(req.name): req for req in reqs}


def test_env_and_requirements_pin_the_same_model_stack():
    local = _requirements(ROOT / "requirements.txt")
    azure = _env_pip_requirements()
    missing = sorted(name for name in MUST_AGREE if name not in local or name not in azure)
    assert not missing, f"{missing} must be pinned in both requirements.txt and {ENV_FILE.name}"
    shared = sorted(set(local) & set(azure))
    disagree = {name: (str(local[name].specifier), str(azure[name].specifier)) for name in shared
                if local[name].specifier != azure[name].specifier}
    assert not disagree, f"requirements.txt vs {ENV_FILE.name} (name: (local, azure)): {disagree}"
    for name in MUST_AGREE:
        assert str(local[name].specifier).startswith("=="), f"{name} must be pinned exactly, got {local[name]}"


def test_env_and_azure_requirements_pin_the_same_sdk():
    local = _requirements(ROOT / "requirements-azure.txt")
    azure = _env_pip_requirements()
    for name in ("azureml-core", "packaging", "mlflow-skinny", "azureml-mlflow"):
        assert local[name].specifier == azure[name].specifier, name


def test_env_python_matches_the_supported_minor_version():
    declared = _conda_dependencies().get_python_version()
    assert declared == "3.11", f"{ENV_FILE.name} declares python {declared}, the project targets 3.11"


def test_env_has_no_package_index_options():
    text = ENV_FILE.read_text()
    for option in ("--index-url", "--extra-index-url", "--find-links", "http://", "https://"):
        assert option not in text, f"{ENV_FILE.name} must not name a package index ({option!r} found)"
