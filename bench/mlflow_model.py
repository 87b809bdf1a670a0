"""Saves a model directory (docs/model-directory.md) as an MLflow sklearn model for the optional MLflow configuration
(d). Runs with the MLflow venv's python, not ours:

    .venv-mlflow/bin/python bench/mlflow_model.py MODEL_DIR OUT_DIR [--predict-fn predict|predict_proba]

Exit status 2 when model.json's sha256 does not match the model file (it is never unpickled then).
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import joblib
import mlflow.sklearn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--predict-fn", choices=("predict", "predict_proba"), default="predict")
    args = parser.parse_args()
    sidecar = json.loads((args.model_dir / "model.json").read_text())
    model_file = args.model_dir / sidecar["model_file"]
    actual = hashlib.sha256(model_file.read_bytes()).hexdigest()
    if actual != sidecar["sha256"]:
        print(f"error: {model_file} has sha256 {actual}, but model.json expects {sidecar['sha256']}", file=sys.stderr)
        return 2
    mlflow.sklearn.save_model(
        joblib.load(model_file), str(args.out), serialization_format="cloudpickle", pyfunc_predict_fn=args.predict_fn
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
