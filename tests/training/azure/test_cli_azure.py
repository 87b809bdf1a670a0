"""`python -m training submit|sweep|deploy`: dry runs, refusals, offline failures and a missing SDK, as exit codes.

Every command runs with no Azure credentials and HTTPS through a loopback port nobody listens on, so a dry run that
tried the network would fail, and a real submission fails fast without leaving this machine.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from training_helpers import refused_port

ROOT = Path(__file__).resolve().parents[3]
# Each case starts a Python process that imports azureml-core (about 2 s).
pytestmark = pytest.mark.slow
SP_VARS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    env = {key: value for key, value in os.environ.items() if key not in SP_VARS}
    env.update(PYTHONPATH=str(ROOT), HTTPS_PROXY=f"http://127.0.0.1:{refused_port()}", NO_PROXY="",
               SKLEARN_WORKSPACE=str(tmp_path_factory.mktemp("workspace")))
    return env


def _cli(env: dict, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


def test_submit_dry_run_prints_the_job_and_snapshot(offline_env):
    result = _cli(offline_env, "submit", "--dry-run", "--kernel", "rbf", "--penalty", "0.5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "experiment: train_iris" in out and "compute target: local" in out
    assert "arguments: --kernel rbf --penalty 0.5 --test-size 0.25" in out
    assert "docker: enabled" in out and "useDocker: true" in out
    assert "- scikit-learn==1.9.1" in out and "script: train.py" in out and "target: local" in out
    assert f"Snapshot of {ROOT / 'training' / 'job'}" in out
    listed = [line.split()[-1] for line in out.split("Snapshot of", 1)[1].splitlines()[1:-1]]
    assert "train.py" in listed and all(not name.endswith(".pyc") for name in listed)
    assert out.rstrip().splitlines()[-1].strip().startswith(f"{len(listed)} files, ")


def test_submit_dry_run_cluster_and_curated_environment(offline_env):
    result = _cli(offline_env, "submit", "--dry-run", "--compute", "hd-cluster", "--create-compute",
                  "--environment", "azureml-sklearn-1.5", "--no-docker")
    assert result.returncode == 0, result.stderr
    assert "compute target: hd-cluster (created if missing: STANDARD_D2_V2, max 4 nodes)" in result.stdout
    assert "environment: azureml-sklearn-1.5 (curated, fetched from the workspace at submission)" in result.stdout
    assert "docker: disabled" in result.stdout and "target: hd-cluster" in result.stdout


def test_secrets_in_the_source_directory_refuse_the_upload(offline_env, tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    (tmp_path / ".env").write_text("AZURE_CLIENT_SECRET=abcdefgh12345\n")
    refused = _cli(offline_env, "submit", "--dry-run", "--source-dir", str(tmp_path))
    assert refused.returncode == 2
    assert ".env: environment file (.env)" in refused.stderr and "--allow-secrets" in refused.stderr
    assert refused.stdout == "", "nothing is described (or uploaded) once the snapshot is refused"
    allowed = _cli(offline_env, "submit", "--dry-run", "--source-dir", str(tmp_path), "--allow-secrets")
    assert allowed.returncode == 0, allowed.stderr


def test_submit_without_credentials_fails_fast(offline_env, tmp_path):
    result = _cli(offline_env, "submit", "--workspace-config", str(tmp_path))
    assert result.returncode == 2
    assert "No Azure credentials for a non-interactive session" in result.stderr
    assert "Traceback" not in result.stderr


def test_submit_offline_with_a_service_principal_fails_clearly(offline_env, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"subscription_id": "0" * 8, "resource_group": "rg",
                                                      "workspace_name": "ws"}))
    env = {**offline_env, "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"}
    result = _cli(env, "submit", "--wait", "--register", "sklearn-iris", "--timeout", "60", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Could not reach the Azure ML workspace configured in the current directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_sweep_azure_dry_run(offline_env):
    result = _cli(offline_env, "sweep", "--target", "azure", "--dry-run", "--policy", "bandit",
                  "--compute", "hd-cluster", "--probability")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert ("sampling: RANDOM over {'--kernel': ['choice', [['linear', 'rbf', 'poly', 'sigmoid']]], "
            "'--penalty': ['choice', [[0.5, 1, 1.5]]]}") in out
    assert "primary metric: Accuracy (maximize)" in out
    assert "max total runs: 12, max concurrent runs: 4" in out
    assert "'name': 'Bandit'" in out and "'slack_factor': 0.1" in out
    assert "arguments: --probability" in out and "Snapshot of" in out


def test_deploy_dry_run_no_code(offline_env):
    result = _cli(offline_env, "deploy", "sklearn-iris:3", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "model: sklearn-iris (version 3)" in result.stdout
    assert "mode: no-code" in result.stdout
    assert 'AciServiceDeploymentConfiguration): {"description": "sklearn-iris scoring service", "cpu_cores": 1.0, ' \
           '"memory_gb": 1.0}' in result.stdout


@pytest.mark.skipif(not (ROOT / "service" / "score.py").is_file(), reason="service/score.py not in this checkout")
def test_deploy_dry_run_with_the_service_scoring_script(offline_env):
    result = _cli(offline_env, "deploy", "sklearn-iris", "--dry-run", "--entry-script", "--target", "aks",
                  "--aks-cluster", "aks1", "--cpu-cores", "0.5", "--memory-gb", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "model: sklearn-iris (version latest)" in out and "target: aks (cluster aks1)" in out
    assert "mode: scoring script service/score.py" in out
    assert '"cpu_cores": 0.5, "memory_gb": 2.0' in out
    assert "  service/score.py" in out and "  service/model_dir.py" in out
    assert "training/" not in out.split("Snapshot of", 1)[1]


@pytest.mark.parametrize(("args", "message"), [
    (("deploy", "sklearn-iris:0", "--dry-run"), "Invalid model reference 'sklearn-iris:0'"),
    (("deploy", "sklearn-iris", "--dry-run", "--target", "aks"), "--aks-cluster NAME"),
    (("deploy", "sklearn-iris", "--dry-run", "--entry-script", "nope/score.py"), "Entry script 'nope/score.py' not"),
    (("submit", "--dry-run", "--script", "nope.py"), "Script 'nope.py' not found in the source directory"),
    (("sweep", "--target", "azure", "--dry-run", "--parallel", "20"), "Concurrency 20 exceeds the 12 runs"),
    (("deploy", "sklearn-iris", "--dry-run", "--port", "8080", "--instance-count", "2"),
     "--port, --instance-count have no effect with --backend v1: they are for a v2 managed online endpoint; "
     "add --backend v2"),
    (("submit", "--dry-run", "--base-image", "example.invalid/custom:1"),
     "--base-image has no effect with --backend v1: v1 picks its own base image; add --backend v2"),
    (("sweep", "--dry-run", "--base-image", "example.invalid/custom:1"), "--base-image has no effect on a local sweep"),
])
def test_user_errors_exit_2_with_one_message(offline_env, args, message):
    result = _cli(offline_env, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_missing_sdk_exits_2_with_the_install_command(offline_env, tmp_path):
    # Packages that cannot be imported stand for an environment without requirements-azure.txt (pathspec comes
    # with azureml-core).
    for package in ("azureml", "pathspec"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"raise ImportError('No module named {package} (simulated)')\n")
    env = {**offline_env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    assert _cli(env, "--help").returncode == 0
    assert _cli(env, "sweep", "--dry-run").returncode == 0, "the local sweep does not need the SDK"
    for command in (["submit", "--dry-run"], ["sweep", "--target", "azure", "--dry-run"],
                    ["deploy", "m", "--dry-run", "--entry-script"]):
        result = _cli(env, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert "need the Azure ML SDK v1" in result.stderr and "pip install -r requirements-azure.txt" in result.stderr


def test_cli_start_up_does_not_import_the_sdk(offline_env):
    code = ("import sys; from training.cli import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'azureml', 'sklearn', 'matplotlib'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=offline_env, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


def test_a_silent_network_ends_in_exit_2_not_a_hang(offline_env, tmp_path, silent_proxy_port):
    (tmp_path / "config.json").write_text(json.dumps({"subscription_id": "0" * 8, "resource_group": "rg",
                                                      "workspace_name": "ws"}))
    env = {**offline_env, "HTTPS_PROXY": f"http://127.0.0.1:{silent_proxy_port}",
           "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"}
    result = _cli(env, "submit", "--timeout", "3", cwd=tmp_path)  # subprocess timeout 300 s guards a hang
    assert result.returncode == 2
    assert "Timed out after 3 s while trying to reach the Azure ML workspace" in result.stderr
