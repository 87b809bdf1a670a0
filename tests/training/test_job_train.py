"""training/job/train.py: sample parity, metric names, model.json per docs/model-directory.md, CSV data, snapshot."""

import ast
import json
import os
import re
import shutil
import subprocess

import joblib
import numpy as np
import pytest
from training_helpers import IRIS_COLUMNS, PYTHON, REPO, find_job_python

from training.azure.snapshot import compute_snapshot
from training.model_dir import check_model_dir

JOB_DIR = REPO / "training" / "job"
METRIC_NAMES = ["Kernel type", "Penalty", "Accuracy", "Precision", "Recall", "F1", "Confusion matrix"]
# What the Azure ML conda environment provides, plus the job's own sibling modules.
ALLOWED_IMPORTS = {"__future__", "argparse", "dataclasses", "datetime", "hashlib", "json", "math", "os", "pathlib",
                   "platform", "re", "sys", "typing", "azureml", "joblib", "matplotlib", "mlflow", "numpy", "pandas",
                   "sklearn", "skops", "model_format", "train_args", "train_data", "train_logging", "train_outputs"}


def train_in_process(job, tmp_path, *argv):
    args = job.train_args.parse_args(["--output-dir", str(tmp_path / "out"), *argv])
    logger = job.train_logging.JsonFileLogger(tmp_path / "metrics.json")
    result = job.train.train(args, logger=logger)
    return result, logger, json.loads((result.output_dir / "model.json").read_text())


def test_sample_defaults_give_37_of_38_and_exact_metric_names(job, tmp_path, capsys):
    result, logger, sidecar = train_in_process(job, tmp_path)
    assert list(logger.metrics) == METRIC_NAMES
    assert logger.metrics["Kernel type"] == "linear" and logger.metrics["Penalty"] == 1.0
    assert logger.metrics["Accuracy"] == pytest.approx(37 / 38)
    assert round(logger.metrics["Accuracy"], 4) == 0.9737
    assert logger.metrics["Confusion matrix"]["data"] == {"class_labels": ["0", "1", "2"],
                                                          "matrix": [[13, 0, 0], [0, 15, 1], [0, 0, 9]]}
    assert "Accuracy of SVM classifier on test set: 0.97\n" in capsys.readouterr().out
    assert sidecar["metrics"] == {name: logger.metrics[name] for name in METRIC_NAMES[:-1]}
    assert sidecar["estimator"] == "sklearn.svm._classes.SVC" and sidecar["has_predict_proba"] is False
    assert (result.output_dir / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG")


def test_model_json_has_exactly_the_documented_keys(job, tmp_path):
    doc = (REPO / "docs" / "model-directory.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", doc, flags=re.M)) - {"registration"}
    _, _, sidecar = train_in_process(job, tmp_path)
    # A joblib model keeps format 1, which has no serialization keys (older readers know it byte for byte).
    assert set(sidecar) == documented - {"serialization_format", "trusted_types"}
    assert sidecar["format"] == 1 and sidecar["input_dtype"] == "float64" and sidecar["n_features"] == 4
    assert sidecar["feature_names"] == ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                                        "petal width (cm)"]
    assert sidecar["classes"] == [0, 1, 2] and len(sidecar["input_sample"]) == 5
    assert sidecar["params"] == {"kernel": "linear", "penalty": 1.0, "test_size": 0.25, "probability": False}
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", sidecar["data_fingerprint"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", sidecar["created_at"])


def test_model_file_matches_its_sha256_and_output_sample(job, tmp_path):
    result, _, sidecar = train_in_process(job, tmp_path, "--kernel", "rbf", "--penalty", "0.5")
    check_model_dir(result.output_dir)  # raises on a sha256 mismatch
    model = joblib.load(result.output_dir / "model.joblib")
    assert model.kernel == "rbf" and model.C == 0.5
    assert model.predict(np.array(sidecar["input_sample"])).tolist() == sidecar["output_sample"]


def test_probability_flag_wraps_in_calibrated_classifier(job, tmp_path):
    result, _, sidecar = train_in_process(job, tmp_path, "--probability")
    assert sidecar["estimator"] == "sklearn.calibration.CalibratedClassifierCV"
    assert sidecar["has_predict_proba"] is True and sidecar["params"]["probability"] is True
    check_model_dir(result.output_dir)
    model = joblib.load(result.output_dir / "model.joblib")
    assert model.ensemble is False and type(model.estimator).__name__ == "SVC"
    assert model.predict_proba(np.array(sidecar["input_sample"])).shape == (5, 3)


def test_csv_data_keeps_feature_names_and_string_classes(job, tmp_path, iris_csv):
    result, logger, sidecar = train_in_process(job, tmp_path, "--data", str(iris_csv), "--label", "species")
    check_model_dir(result.output_dir)
    model = joblib.load(result.output_dir / "model.joblib")
    assert list(model.feature_names_in_) == IRIS_COLUMNS
    assert sidecar["feature_names"] == IRIS_COLUMNS and sidecar["input_dtype"] == "float64"
    assert sidecar["classes"] == ["setosa", "versicolor", "virginica"]
    assert sidecar["output_sample"] == ["setosa"] * 5
    assert sidecar["params"]["data"] == str(iris_csv) and sidecar["params"]["label"] == "species"
    # Same rows and split as load_iris(), so the same 37/38.
    assert logger.metrics["Accuracy"] == pytest.approx(37 / 38)
    assert logger.metrics["Confusion matrix"]["data"]["class_labels"] == ["setosa", "versicolor", "virginica"]


def test_format_skops_writes_model_skops_and_the_types_it_holds(job, tmp_path):
    import skops.io

    result, _, sidecar = train_in_process(job, tmp_path, "--probability", "--format", "skops")
    joblib_result, _, joblib_sidecar = train_in_process(job, tmp_path / "joblib", "--probability")
    assert sorted(p.name for p in result.output_dir.iterdir()) == ["confusion_matrix.png", "model.json", "model.skops"]
    assert check_model_dir(result.output_dir) == sidecar
    assert (sidecar["format"], sidecar["model_file"], sidecar["serialization_format"]) == (2, "model.skops", "skops")
    path = result.output_dir / "model.skops"
    assert sidecar["trusted_types"] == skops.io.get_untrusted_types(file=path) != []
    assert sidecar["params"]["format"] == "skops" and "format" not in joblib_sidecar["params"]
    model = skops.io.load(path, trusted=sidecar["trusted_types"])
    reference = joblib.load(joblib_result.output_dir / "model.joblib")
    rows = np.asarray(sidecar["input_sample"] + [[6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])
    assert model.predict_proba(rows).tolist() == reference.predict_proba(rows).tolist()
    assert sidecar["output_sample"] == joblib_sidecar["output_sample"]


def test_to_argv_round_trips(job):
    argv = ["--kernel", "poly", "--penalty", "1.5", "--test-size", "0.3", "--probability", "--data", "d.csv",
            "--label", "y", "--output-dir", "o"]
    args = job.train_args.parse_args(argv)
    assert job.train_args.parse_args(job.train_args.to_argv(args)) == args
    assert "--format" not in job.train_args.to_argv(args)  # the default is left out, as before --format existed
    skops_args = job.train_args.parse_args([*argv, "--format", "skops"])
    assert job.train_args.parse_args(job.train_args.to_argv(skops_args)) == skops_args


@pytest.mark.parametrize("argv, message", [
    (["--kernel", "cubic"], "invalid choice: 'cubic'"),
    (["--penalty", "0"], "expected a number > 0, got '0'"),
    (["--test-size", "1"], "expected a fraction between 0 and 1"),
    (["--penalty", "nan"], "expected a finite number"),
    (["--label", "species"], "--label applies to --data"),
    (["--format", "pickle"], "argument --format: invalid choice: 'pickle' (choose from 'joblib', 'skops')"),
])
def test_bad_arguments_raise_usage_error(job, argv, message):
    with pytest.raises(job.train_args.UsageError, match=re.escape(message)):
        job.train_args.parse_args(argv)


def test_job_imports_only_the_conda_environment_packages():
    for source in JOB_DIR.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: package-relative import"
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in ALLOWED_IMPORTS, f"{source.name} imports {name}"


@pytest.mark.slow
def test_bare_train_py_runs_from_a_copy_of_the_snapshot_with_the_job_environment(tmp_path):
    """What Azure ML does with training/job/: upload the files its snapshot selects (training/azure/snapshot.py) and run
    `python train.py` in the job's environment (the pip pins of training/sklearn-env.yml), nothing of the repo there."""
    job_python = find_job_python()
    snapshot = tmp_path / "snapshot"
    for item in compute_snapshot(JOB_DIR).files:
        (snapshot / item.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(JOB_DIR / item.path, snapshot / item.path)
    assert (snapshot / "model_format.py").read_bytes() == (REPO / "model_format.py").read_bytes()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SKLEARN_WORKSPACE", "AZUREML_RUN_ID")}
    for package in ("training", "service"):
        probe = subprocess.run([job_python, "-c", f"import {package}"], cwd=snapshot, env=env, capture_output=True)
        assert probe.returncode != 0, f"{package} is importable, so this test would prove nothing"
    done = subprocess.run([job_python, "train.py", "--kernel", "linear", "--penalty", "1.0"], cwd=snapshot, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Accuracy of SVM classifier on test set: 0.97\n")
    outputs = snapshot / "outputs"
    assert sorted(p.name for p in outputs.iterdir()) == ["confusion_matrix.png", "metrics.json", "model.joblib",
                                                         "model.json"]
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert list(metrics) == METRIC_NAMES and round(metrics["Accuracy"], 4) == 0.9737
    assert check_model_dir(outputs)["run_id"] is None
    # The job environment carries skops too (training/sklearn-env.yml), so `submit --format skops` can run there.
    done = subprocess.run([job_python, "train.py", "--format", "skops", "--output-dir", "skops-out"], cwd=snapshot,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert check_model_dir(snapshot / "skops-out")["serialization_format"] == "skops"


def test_bare_train_py_exits_2_on_bad_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([PYTHON, str(JOB_DIR / "train.py"), "--data", "missing.csv", "--label", "y"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr == ("error: Data file 'missing.csv' not found. Pass --data with the path of a CSV file with a "
                           "header row.\n")
    assert not (tmp_path / "outputs" / "model.json").exists()
