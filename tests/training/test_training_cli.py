"""`python -m training`: help everywhere, exit codes 0/2, tables, --json, `models path` as `make run` uses it."""

import json
import shutil
import subprocess

import pytest
from training_helpers import PYTHON, subprocess_env

HELP_COMMANDS = [[], ["train"], ["register"], ["models"], ["models", "list"], ["models", "show"], ["models", "path"],
                 ["runs"], ["runs", "list"], ["runs", "show"]]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_everywhere(cli, command):
    code, out, _ = cli(*command, "--help")
    assert code == 0 and out.startswith("usage: python -m training")


def test_train_help_shows_the_job_options(cli):
    _, out, _ = cli("train", "--help")
    for option in ("--kernel", "--penalty", "--test-size", "--probability", "--data", "--label", "--output-dir",
                   "--register", "--tag"):
        assert option in out


def test_make_run_flow_in_real_processes(workspace, tmp_path):
    """`models path NAME || train --register NAME`, then `models path NAME` prints only the directory."""
    env = subprocess_env(SKLEARN_WORKSPACE=str(workspace))

    def run(*args):
        return subprocess.run([PYTHON, "-m", "training", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)

    absent = run("models", "path", "sklearn-iris")
    assert absent.returncode == 2 and absent.stdout == ""
    assert absent.stderr.startswith("error: No model named 'sklearn-iris' in the registry")
    trained = run("train", "--register", "sklearn-iris")
    assert trained.returncode == 0, trained.stderr
    assert "Registered model sklearn-iris version 1 at " in trained.stdout
    found = run("models", "path", "sklearn-iris")
    assert found.returncode == 0 and found.stdout == f"{workspace / 'models' / 'sklearn-iris' / '1'}\n"


def test_models_list_show_json_and_table(cli, iris_model_dir):
    assert cli("register", iris_model_dir, "--name", "iris", "--tag", "stage=dev", "--property", "owner=me",
               "--description", "first")[0] == 0
    assert cli("register", iris_model_dir, "--name", "iris", "--cpu", "1", "--memory-in-gb", "0.5")[0] == 0
    code, out, _ = cli("models", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [(m["name"], m["version"]) for m in listed] == [("iris", 1), ("iris", 2)]
    assert listed[0]["tags"] == {"stage": "dev"} and listed[0]["properties"] == {"owner": "me"}
    assert listed[0]["run_id"] == "fixture" and listed[0]["description"] == "first"
    assert listed[0]["resource_configuration"] is None
    assert listed[1]["resource_configuration"] == {"cpu": 1.0, "memory_in_gb": 0.5}
    _, out, _ = cli("models", "list", "--tag", "stage=dev", "--json")
    assert [m["version"] for m in json.loads(out)] == [1]
    _, out, _ = cli("models", "list")
    assert out.splitlines()[0].split() == ["NAME", "VERSION", "FORMAT", "CREATED", "RUN", "TAGS"]
    assert len(out.splitlines()) == 3 and "stage=dev" in out.splitlines()[1]
    code, out, _ = cli("models", "show", "iris:1", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["version"] == 1 and shown["model_json"]["registration"]["version"] == 1
    code, out, _ = cli("models", "show", "iris")
    assert code == 0 and "version:" in out and " 2\n" in out and "metric Accuracy:" in out


def test_runs_list_and_show(cli, workspace):
    assert cli("train", "--kernel", "rbf")[0] == 0
    code, out, _ = cli("runs", "list", "--json")
    [run] = json.loads(out)
    assert code == 0 and run["status"] == "completed" and run["params"]["kernel"] == "rbf"
    code, out, _ = cli("runs", "show", run["run_id"], "--json")
    assert code == 0 and json.loads(out) == run
    _, out, _ = cli("runs", "list")
    assert out.splitlines()[1].split()[2:3] == ["completed"] and out.splitlines()[1].endswith("0.9737")
    _, out, _ = cli("runs", "show", run["run_id"])
    assert "status:      completed" in out and "  Kernel type: rbf" in out


@pytest.mark.parametrize("args, message", [
    (["models", "path", "iris:0"], "Invalid model reference 'iris:0'"),
    (["models", "show", "nope"], "No model named 'nope'"),
    (["runs", "show", "nope"], "No run with id 'nope'"),
    (["train", "--tag", "a=b"], "--tag applies to the registered model; add --register NAME."),
    (["train", "--register", "bad name"], "Invalid model name 'bad name'"),
    (["register", "/nonexistent/model", "--name", "x"], "Model directory /nonexistent/model does not exist"),
    (["train", "--kernel", "cubic"], "invalid choice: 'cubic'"),
    (["register", ".", "--name", "x", "--tag", "novalue"], "expected KEY=VALUE, got 'novalue'"),
    (["register", ".", "--name", "x", "--cpu", "-1"], "argument --cpu: expected a number > 0, got '-1'"),
    (["register", ".", "--name", "x", "--memory-in-gb", "nan"],
     "argument --memory-in-gb: expected a number > 0, got 'nan'"),
])
def test_user_errors_exit_2_with_one_message(cli, workspace, args, message):
    code, out, err = cli(*args)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (workspace / "runs").exists()


@pytest.mark.parametrize("args, message", [
    (["register", "MODEL", "--name", "x", "--emit-yaml", "out"],
     "--emit-yaml has no effect on a local registration: add --azure (--backend v2 for --emit-yaml)"),
    (["register", "MODEL", "--name", "x", "--dry-run", "--workspace-config", "out"],
     "--workspace-config, --dry-run have no effect on a local registration: add --azure"),
    (["sweep", "--max-runs", "1", "--emit-yaml", "out"],
     "--emit-yaml has no effect on a local sweep: add --azure (--backend v2 for --emit-yaml)"),
    (["sweep", "--max-runs", "1", "--compute", "cpu-cluster", "--wait", "--no-docker"],
     "--compute, --wait, --no-docker have no effect on a local sweep: add --azure"),
])
def test_azure_options_on_a_local_command_exit_2(cli, workspace, iris_model_dir, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*[iris_model_dir if arg == "MODEL" else arg for arg in args])
    assert code == 2 and message in err, err
    assert not (workspace / "models").exists() and not (workspace / "runs").exists() and not (tmp_path / "out").exists()


def test_tampered_registered_model_makes_models_path_exit_2(cli, iris_model_dir, tmp_path):
    source = shutil.copytree(iris_model_dir, tmp_path / "m")
    assert cli("register", source, "--name", "iris")[0] == 0
    code, path, _ = cli("models", "path", "iris")
    assert code == 0
    with open(f"{path.strip()}/model.joblib", "ab") as handle:
        handle.write(b"x")
    code, out, err = cli("models", "path", "iris")
    assert code == 2 and out == "" and "the artifact was modified and will not be used" in err


def test_unusable_workspace_exits_2(cli, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("SKLEARN_WORKSPACE", str(tmp_path / "a-file"))
    code, _, err = cli("models", "list")
    assert code == 2 and err.startswith("error: Cannot open the workspace database in ")
