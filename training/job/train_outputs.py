"""The writer side of the model directory (docs/model-directory.md): model.joblib or model.skops, model.json,
confusion_matrix.png.

Part of the Azure ML snapshot (training/job/): stdlib, numpy, scikit-learn, joblib and matplotlib only (skops for
``--format skops``), plus model_format.py, the repository's format module that this folder carries a copy of
(``make vendor``).
"""

import platform
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import sklearn

from model_format import SERIALIZATIONS, sha256_file, write_sidecar


def write_model_dir(output_dir: Path, model, X, feature_names, *, params, metrics, data_fingerprint, run_id,
                    serialization_format: str = "joblib") -> Path:
    """Write the model file then ``model.json`` into ``output_dir``; return the sidecar path.

    joblib: ``model.joblib`` and a format-1 sidecar, as before. skops: ``model.skops`` (``skops.io.dump``) and a
    format-2 sidecar whose ``trusted_types`` are what ``skops.io.get_untrusted_types`` lists for the written file,
    the only types beyond skops' defaults a reader will trust. model.json is validated, written last and renamed
    into place (model_format.write_sidecar), so a directory with a model.json is complete and valid.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_file, version = SERIALIZATIONS[serialization_format]
    model_path = output_dir / model_file
    if serialization_format == "skops":
        import skops.io  # only this format needs it

        skops.io.dump(model, model_path)
        serialization = {"serialization_format": "skops",
                         "trusted_types": skops.io.get_untrusted_types(file=model_path)}
    else:
        joblib.dump(model, model_path)
        serialization = {}
    matrix = np.asarray(X, dtype=np.float64)
    sample = matrix[:5]
    sample_input = X.iloc[:5] if hasattr(X, "iloc") else sample
    is_classifier = hasattr(model, "classes_")
    sidecar = {
        "format": version,
        "model_file": model_file,
        "sha256": sha256_file(model_path),
        **serialization,
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
        "task": "classification" if is_classifier else "regression",
        "feature_names": list(feature_names) if feature_names is not None else None,
        "n_features": int(matrix.shape[1]),
        "input_dtype": str(matrix.dtype),
        "classes": np.asarray(model.classes_).tolist() if is_classifier else None,
        "has_predict_proba": hasattr(model, "predict_proba"),
        "input_sample": sample.tolist(),
        "output_sample": np.asarray(model.predict(sample_input)).tolist(),
        "params": params,
        "metrics": metrics,
        "data_fingerprint": data_fingerprint,
        "run_id": run_id,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return write_sidecar(output_dir, sidecar)


def write_confusion_matrix_png(path: Path, matrix, labels, title: str) -> None:
    """Plot ``matrix`` (rows = true class, columns = predicted) with ``labels`` to a PNG file at ``path``."""
    # The Figure API needs no pyplot backend, so this works headless and leaves no global figure state.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(len(labels))
    axes.set_xticks(ticks, [str(label) for label in labels])
    axes.set_yticks(ticks, [str(label) for label in labels])
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    axes.set_title(title)
    threshold = np.max(matrix) / 2 if np.size(matrix) else 0
    for row, values in enumerate(matrix):
        for column, value in enumerate(values):
            axes.text(column, row, str(value), ha="center", va="center",
                      color="white" if value > threshold else "black")
    figure.savefig(path, dpi=100)

