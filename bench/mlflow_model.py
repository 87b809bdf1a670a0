"""Saves a model directory (docs/model-directory.md) as an MLflow sklearn model for the optional MLflow configuration
(d). Runs with the MLflow venv's python, not ours:

    .venv-mlflow/bin/python -m bench.mlflow_model MODEL_DIR OUT_DIR [--predict-fn predict|predict_proba]

(from the repository root, which puts the shared model_format module on sys.path). Exit status 2 when model.json is
invalid or its sha256 does not match the model file (it is never unpickled then).
"""

import argparse
import sys
from pathlib import Path

import joblib
import mlflow.sklearn

import model_format


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--predict-fn", choices=("predict", "predict_proba"), default="predict")
    args = parser.parse_args()
    try:
        model_file = model_format.verify(args.model_dir, model_format.read_sidecar(args.model_dir))
    except model_format.ModelDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mlflow.sklearn.save_model(
        joblib.load(model_file), str(args.out), serialization_format="cloudpickle", pyfunc_predict_fn=args.predict_fn
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
