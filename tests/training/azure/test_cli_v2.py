"""`python -m training ... --backend v2`: what the CLI prints (dry-run YAML, help) and its exit-2 refusals.

Each case is a real ``python -m training`` process with no Azure credentials and every proxy pointing at a loopback
port nobody listens on, so anything that tried the network would fail instead of leaving this machine.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from training_helpers import refused_port

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow  # each case starts a Python process that imports azure-ai-ml (about 2 s)
CREDENTIAL_VARS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
                   "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "SKLEARN_AZURE_BACKEND")


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    proxy = f"http://127.0.0.1:{refused_port()}"
    home = tmp_path_factory.mktemp("home")  # no ~/.azure token cache
    env = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_VARS}
    env.update(PYTHONPATH=str(ROOT), HTTPS_PROXY=proxy, HTTP_PROXY=proxy, NO_PROXY="", HOME=str(home),
               PATH=os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",  # no az CLI to ask
               SKLEARN_WORKSPACE=str(tmp_path_factory.mktemp("workspace")), MLFLOW_DISABLE_TELEMETRY="true")
    return env


def _cli(env: dict, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


def _documents(out: str) -> dict[str, dict]:
    """The ``--- name ---`` YAML documents of a v2 dry run, parsed (up to the upload listing)."""
    body = out.split("=== upload ===")[0].split("\n", 1)[1]
    parts = body.split("--- ")[1:]
    return {part.split(" ---\n", 1)[0]: yaml.safe_load(part.split(" ---\n", 1)[1]) for part in parts}


def test_help_says_v1_is_out_of_support_and_v2_is_current(offline_env):
    for command in ("submit", "sweep", "deploy", "register"):
        result = _cli(offline_env, command, "--help")
        text = " ".join(result.stdout.split())
        assert result.returncode == 0
        assert "v1 (azureml-core; out of support since 2026-06-30)" in text, command
        assert "v2 (azure-ai-ml; the current SDK)" in text and "Default: $SKLEARN_AZURE_BACKEND, else v1" in text


def test_submit_dry_run_prints_the_environment_and_job_yaml(offline_env):
    result = _cli(offline_env, "submit", "--backend", "v2", "--dry-run", "--kernel", "rbf", "--penalty", "0.5",
                  "--compute", "cpu-cluster", "--base-image", "example.invalid/custom:1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("=== Azure ML job (dry run, nothing is submitted; SDK v2) ===\n")
    documents = _documents(result.stdout)
    environment, job = documents["environment.yml"], documents["job.yml"]
    assert environment["image"] == "example.invalid/custom:1" and environment["name"] == "sklearn-iris"
    assert "scikit-learn==1.9.1" in environment["conda_file"]["dependencies"][2]["pip"]
    assert job == {
        "code": "training/job", "type": "command", "compute": "azureml:cpu-cluster",
        "command": "python train.py --kernel ${{inputs.kernel}} --penalty ${{inputs.penalty}} "
                   "--test-size ${{inputs.test_size}}",
        "display_name": "train_iris train.py", "experiment_name": "train_iris",
        "environment": f"azureml:sklearn-iris:{environment['version']}",
        "inputs": {"kernel": "rbf", "penalty": 0.5, "test_size": 0.25},
        "environment_variables": {}, "outputs": {}, "parameters": {}, "properties": {}, "tags": {}}
    assert "Snapshot of" in result.stdout and "train_logging.py" in result.stdout


def test_the_environment_variable_sets_the_default_backend(offline_env):
    result = _cli({**offline_env, "SKLEARN_AZURE_BACKEND": "v2"}, "sweep", "--azure", "--dry-run", "--compute", "c1")
    assert result.returncode == 0, result.stderr
    assert "=== Azure ML sweep job (dry run, nothing is submitted; SDK v2) ===" in result.stdout
    sweep = _documents(result.stdout)["sweep.yml"]
    assert sweep["trial"]["command"] == "python train.py --kernel ${{search_space.kernel}} " \
                                        "--penalty ${{search_space.penalty}}"
    bad = _cli({**offline_env, "SKLEARN_AZURE_BACKEND": "v3"}, "submit", "--dry-run")
    assert bad.returncode == 2
    assert "backend 'v3' is not available; expected one of v1, v2 (--backend, or $SKLEARN_AZURE_BACKEND" in bad.stderr


def test_deploy_dry_run_defaults_to_the_scoring_script(offline_env):
    result = _cli(offline_env, "deploy", "sklearn-iris:2", "--backend", "v2", "--dry-run", "--instance-count", "2")
    assert result.returncode == 0, result.stderr
    documents = _documents(result.stdout)
    assert sorted(documents) == ["deployment.yml", "endpoint.yml", "environment.yml"]
    deployment = documents["deployment.yml"]
    assert deployment["code_configuration"]["scoring_script"] == "service/score.py"
    assert (deployment["model"], deployment["instance_count"], deployment["name"]) == (
        "azureml:sklearn-iris:2", 2, "blue")
    assert "  service/score.py" in result.stdout.split("=== upload ===", 1)[1]


def test_emit_yaml_writes_files_and_sends_nothing(offline_env, tmp_path):
    result = _cli(offline_env, "deploy", "sklearn-iris", "--backend", "v2", "--image", "example.invalid/scoring:1",
                  "--emit-yaml", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"Wrote {tmp_path / name}" for name in
                                          ("environment.yml", "endpoint.yml", "deployment.yml")]


def test_dry_run_and_emit_yaml_bind_a_local_data_file_by_its_relative_path(offline_env, tmp_path, iris_csv):
    dry = _cli(offline_env, "submit", "--backend", "v2", "--dry-run", "--data", str(iris_csv), cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert _documents(dry.stdout)["job.yml"]["inputs"]["data"] == {"type": "uri_file", "path": "iris.csv"}
    emitted = _cli(offline_env, "submit", "--backend", "v2", "--data", str(iris_csv), "--emit-yaml", "ci/azureml",
                   cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stderr
    job = yaml.safe_load((tmp_path / "ci" / "azureml" / "job.yml").read_text())
    assert job["inputs"]["data"] == {"type": "uri_file", "path": "../../iris.csv"}


def test_register_azure_dry_run_of_a_local_model_directory(offline_env, iris_model_dir):
    result = _cli(offline_env, "register", str(iris_model_dir), "--name", "sklearn-iris", "--azure",
                  "--backend", "v2", "--dry-run", "--tag", "team=ml")
    assert result.returncode == 0, result.stderr
    model = _documents(result.stdout)["model.yml"]
    sha256 = json.loads((iris_model_dir / "model.json").read_text())["sha256"]
    assert (model["type"], model["properties"]["sha256"], model["tags"]["team"]) == ("custom_model", sha256, "ml")
    assert "model.joblib" in result.stdout.split("=== upload ===", 1)[1]


@pytest.mark.parametrize(("args", "message"), [
    (("submit", "--emit-yaml", "out"), "--emit-yaml writes `az ml` (SDK v2) YAML; add --backend v2."),
    (("deploy", "m", "--image", "x:1", "--dry-run"), "--image deploys a container to a managed online endpoint"),
    (("sweep", "--azure", "--backend", "v2", "--dry-run", "--parallel", "20"), "Concurrency 20 exceeds the 12 runs"),
    (("deploy", "m", "--backend", "v2", "--dry-run", "--image", "x:1", "--entry-script"),
     "either a scoring script (--entry-script) or a container image (--image)"),
    (("deploy", "m", "--backend", "v2", "--dry-run", "--target", "aks", "--aks-cluster", "a1"),
     "a v2 managed online endpoint is sized with --instance-type and --instance-count"),
    (("register", "nowhere", "--name", "m", "--azure", "--backend", "v2", "--dry-run"),
     "Source directory nowhere does not exist"),
    (("deploy", "m", "--backend", "v2", "--dry-run", "--cpu-cores", "2", "--memory-gb", "4"),
     "--cpu-cores, --memory-gb have no effect with --backend v2: a managed online endpoint is sized with "
     "--instance-type and --instance-count"),
    (("submit", "--backend", "v2", "--dry-run", "--no-docker"),
     "--no-docker has no effect with --backend v2: a v2 job always runs in its environment's image"),
    (("sweep", "--azure", "--backend", "v2", "--emit-yaml", "out", "--no-docker"), "--no-docker has no effect"),
])
def test_user_errors_exit_2_with_one_message(offline_env, tmp_path, args, message):
    result = _cli(offline_env, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_secrets_in_the_job_folder_refuse_the_v2_upload_too(offline_env, tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    (tmp_path / ".env").write_text("AZURE_CLIENT_SECRET=abcdefgh12345\n")
    for extra in (["--dry-run"], ["--emit-yaml", str(tmp_path / "yaml")], []):
        result = _cli(offline_env, "submit", "--backend", "v2", "--source-dir", str(tmp_path), *extra)
        assert result.returncode == 2, (extra, result.stderr)
        assert ".env: environment file (.env)" in result.stderr and result.stdout == ""
    assert not (tmp_path / "yaml").exists()


# `python -m training` where the Azure SDKs and PyYAML (not a training requirement) cannot be imported.
WITHOUT_AZURE_EXTRA = """
import sys

class HideAzureExtra:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("azure", "azureml", "yaml"):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)

sys.meta_path.insert(0, HideAzureExtra())
from training.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("args", "sdk"), [
    (("submit", "--backend", "v2", "--dry-run"), "v2 (azure-ai-ml, azure-identity)"),
    (("deploy", "m", "--backend", "v2", "--emit-yaml", "out"), "v2 (azure-ai-ml, azure-identity)"),
    (("sweep", "--azure", "--backend", "v1", "--dry-run"), "v1 (azureml-core, azureml-train-core)"),
])
def test_missing_sdk_exits_2_with_the_install_command(offline_env, tmp_path, args, sdk):
    result = subprocess.run([sys.executable, "-c", WITHOUT_AZURE_EXTRA, *args], cwd=tmp_path, env=offline_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"need the Azure ML SDK {sdk}" in result.stderr and "Traceback" not in result.stderr
    assert "pip install -r requirements-azure.txt" in result.stderr
    assert not (tmp_path / "out").exists()


def test_no_workspace_config_exits_2(offline_env, tmp_path):
    result = _cli(offline_env, "submit", "--backend", "v2", "--compute", "c1", cwd=tmp_path)
    assert result.returncode == 2
    assert "No usable Azure ML workspace config in the current directory or its parents" in result.stderr
    assert "--workspace-config PATH" in result.stderr and "Traceback" not in result.stderr


def test_no_credentials_exits_2(offline_env, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"subscription_id": "0" * 8, "resource_group": "rg",
                                                      "workspace_name": "ws"}))
    result = _cli(offline_env, "deploy", "sklearn-iris", "--backend", "v2", "--timeout", "60", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "No Azure credentials usable here: DefaultAzureCredential found none" in result.stderr
    assert "Traceback" not in result.stderr


def test_partial_service_principal_exits_2(offline_env, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"subscription_id": "0" * 8, "resource_group": "rg",
                                                      "workspace_name": "ws"}))
    env = {**offline_env, "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
    result = _cli(env, "submit", "--backend", "v2", cwd=tmp_path)
    assert result.returncode == 2
    assert "AZURE_TENANT_ID, AZURE_CLIENT_ID set but AZURE_CLIENT_SECRET missing" in result.stderr


def test_help_and_local_commands_do_not_import_azure_ai_ml_or_mlflow(offline_env, tmp_path):
    code = ("import sys; from training.cli import main; main(sys.argv[1:]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'azureml') "
            "or m.startswith('azure.ai')), file=sys.stderr)")
    for args in (["models", "list"], ["train", "--output-dir", str(tmp_path / "out")], ["sweep", "--dry-run"]):
        result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=offline_env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip().splitlines()[-1] == "[]", (args, result.stderr)
    started = subprocess.run([sys.executable, "-X", "importtime", "-m", "training", "--help"], cwd=ROOT,
                             env=offline_env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0
    assert "azure.ai.ml" not in started.stderr and "mlflow" not in started.stderr
