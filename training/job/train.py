"""Train the iris SVC (Azure's train_iris.py semantics) or an SVC on a CSV file, and write a model directory.

This folder (training/job/) is the Azure ML job's source_directory: it imports only the conda environment's
packages and its sibling modules, so ``python train.py`` runs unchanged on Azure and from a plain checkout.
``python -m training train`` runs the same ``train()`` in-process as a recorded local run.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.svm import SVC
from train_args import DEFAULT_OUTPUT_DIR, UsageError, params_of, parse_args
from train_data import DataError, fingerprint, load_dataset, split
from train_logging import default_logger
from train_outputs import write_confusion_matrix_png, write_model_dir


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced: its metrics (logged names) and the model directory."""

    metrics: dict
    output_dir: Path


def train(args: argparse.Namespace, *, logger=None, output_dir: Path | None = None) -> TrainResult:
    """Fit the model, log the metrics, write the model directory and the confusion-matrix plot.

    ``logger`` has ``log(name, value)``, ``log_confusion_matrix(name, value)`` and ``run_id``; by default an
    Azure ML run when inside one, else ``<output dir>/metrics.json``. ``output_dir`` overrides ``--output-dir``.

    Raises
    ------
    DataError
        The data cannot be loaded, split or fitted (see train_data.py).
    """
    output_dir = Path(output_dir or args.output_dir or DEFAULT_OUTPUT_DIR)
    logger = logger or default_logger(output_dir)
    dataset = load_dataset(args.data, args.label)
    X_train, X_test, y_train, y_test = split(dataset, args.test_size)
    model = SVC(kernel=args.kernel, C=args.penalty)
    if args.probability:
        model = CalibratedClassifierCV(model, ensemble=False)
    try:
        model.fit(X_train, y_train)
    except ValueError as exc:
        raise DataError(f"Fitting {type(model).__name__} on {dataset.source} failed: {exc}") from exc

    predictions = model.predict(X_test)
    accuracy = float(model.score(X_test, y_test))
    precision, recall, f1, _ = precision_recall_fscore_support(y_test, predictions, average="macro", zero_division=0)
    metrics = {"Kernel type": args.kernel, "Penalty": float(args.penalty), "Accuracy": accuracy,
               "Precision": float(precision), "Recall": float(recall), "F1": float(f1)}
    for name, value in metrics.items():
        logger.log(name, value)
    labels = model.classes_
    matrix = confusion_matrix(y_test, predictions, labels=labels)
    logger.log_confusion_matrix("Confusion matrix", {
        "schema_type": "confusion_matrix",
        "schema_version": "1.0.0",
        "data": {"class_labels": [str(label) for label in labels.tolist()], "matrix": matrix.tolist()},
    })
    print(f"Accuracy of SVM classifier on test set: {accuracy:.2f}")
    print(matrix)

    output_dir.mkdir(parents=True, exist_ok=True)
    write_confusion_matrix_png(output_dir / "confusion_matrix.png", matrix, labels.tolist(),
                               f"SVC kernel={args.kernel} C={args.penalty:g}")
    write_model_dir(output_dir, model, dataset.X, dataset.feature_names, params=params_of(args), metrics=metrics,
                    data_fingerprint=fingerprint(dataset), run_id=logger.run_id,
                    serialization_format=args.serialization_format)
    return TrainResult(metrics, output_dir)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: 0 on success, 2 with one message on stderr for bad arguments or data."""
    try:
        train(parse_args(sys.argv[1:] if argv is None else argv))
    except (UsageError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
