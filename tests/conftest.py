"""Fixtures shared by every test folder: a real iris model directory written exactly as docs/model-directory.md says.

It is built here, with scikit-learn directly, so service tests do not depend on training/ (the two packages share only
the model directory format, and this fixture is a second, independent writer of it).
"""

import hashlib
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC


def write_iris_model_dir(target: Path, *, probability: bool = False) -> Path:
    """Train the iris SVC (train_iris.py semantics) and write model.joblib + model.json into ``target``.

    With ``probability`` the SVC is wrapped in ``CalibratedClassifierCV(ensemble=False)`` so the model has
    ``predict_proba`` (``SVC(probability=True)`` is deprecated since scikit-learn 1.9).
    """
    iris = load_iris()
    X, y = iris.data, iris.target
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = SVC(kernel="linear", C=1.0)
    if probability:
        model = CalibratedClassifierCV(model, ensemble=False)
    model.fit(X_train, y_train)
    target.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, target / "model.joblib")
    sample = X[:5]
    sidecar = {
        "format": 1,
        "model_file": "model.joblib",
        "sha256": hashlib.sha256((target / "model.joblib").read_bytes()).hexdigest(),
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
        "task": "classification",
        "feature_names": list(iris.feature_names),
        "n_features": int(X.shape[1]),
        "input_dtype": str(X.dtype),
        "classes": model.classes_.tolist(),
        "has_predict_proba": hasattr(model, "predict_proba"),
        "input_sample": sample.tolist(),
        "output_sample": model.predict(sample).tolist(),
        "params": {"kernel": "linear", "penalty": 1.0, "test_size": 0.25, "probability": probability},
        "metrics": {"Kernel type": "linear", "Penalty": 1.0, "Accuracy": float(model.score(X_test, y_test))},
        "data_fingerprint": "sha256:" + hashlib.sha256(np.ascontiguousarray(X).tobytes() + y.tobytes()).hexdigest(),
        "run_id": "fixture",
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (target / "model.json").write_text(json.dumps(sidecar, indent=2))
    return target


@pytest.fixture(scope="session")
def iris_model_dir(tmp_path_factory) -> Path:
    """The plain iris SVC (no predict_proba), shared by the whole session: copy it before changing it."""
    return write_iris_model_dir(tmp_path_factory.mktemp("models") / "sklearn-iris" / "1")


@pytest.fixture(scope="session")
def iris_proba_model_dir(tmp_path_factory) -> Path:
    """The calibrated iris SVC (has predict_proba), shared by the whole session: copy it before changing it."""
    return write_iris_model_dir(tmp_path_factory.mktemp("models") / "sklearn-iris-proba" / "1", probability=True)


@pytest.fixture(scope="session")
def iris_skops_model_dir(iris_proba_model_dir, tmp_path_factory) -> Path:
    """The calibrated iris SVC saved with skops, with the format-2 sidecar ``train --format skops`` writes (its types
    beyond skops' defaults recorded as trusted). Shared by the whole session: copy it before changing it."""
    import skops.io

    target = tmp_path_factory.mktemp("models") / "sklearn-iris-skops" / "1"
    target.mkdir(parents=True)
    path = target / "model.skops"
    skops.io.dump(joblib.load(iris_proba_model_dir / "model.joblib"), path)  # written by this session: ours
    sidecar = json.loads((iris_proba_model_dir / "model.json").read_text())
    sidecar.update(format=2, model_file="model.skops", sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                   serialization_format="skops", trusted_types=skops.io.get_untrusted_types(file=path))
    (target / "model.json").write_text(json.dumps(sidecar, indent=2))
    return target
