"""The command-line arguments of train.py: parser, inverse (``to_argv``) and the recorded parameters.

Stdlib only, so ``python -m training --help`` can show them without importing scikit-learn.
"""

import argparse
import math

KERNELS = ("linear", "poly", "rbf", "sigmoid")
SERIALIZATION_FORMATS = ("joblib", "skops")
DEFAULT_OUTPUT_DIR = "outputs"


class UsageError(ValueError):
    """Invalid command-line arguments for train.py (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    # Raise instead of exiting so in-process callers (the local run, the sweep workers) get an exception.
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def build_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """The train.py argument parser (``--kernel``, ``--penalty`` as in Azure's train_iris.py, plus this job's)."""
    parser = _Parser(prog="train.py", add_help=add_help,
                     description="Train an SVC on iris or a CSV file and write a model directory.")
    parser.add_argument("--kernel", type=str, default="linear", choices=KERNELS,
                        help="Kernel type to be used in the algorithm (default: linear)")
    parser.add_argument("--penalty", type=_positive_float, default=1.0,
                        help="Penalty parameter of the error term (default: 1.0)")
    parser.add_argument("--test-size", type=_fraction, default=0.25,
                        help="fraction of rows held out for the test set (default: 0.25)")
    parser.add_argument("--probability", action="store_true",
                        help="wrap the SVC in CalibratedClassifierCV(ensemble=False) so the model has predict_proba")
    parser.add_argument("--data", metavar="CSV", default=None,
                        help="CSV file with a header row (default: scikit-learn's iris data set)")
    parser.add_argument("--label", metavar="COLUMN", default=None,
                        help="label column of --data; every other column is a numeric feature")
    parser.add_argument("--output-dir", metavar="DIR", default=None,
                        help="where model.joblib, model.json and confusion_matrix.png go "
                        f"(default: {DEFAULT_OUTPUT_DIR})")
    parser.add_argument("--format", dest="serialization_format", default="joblib", choices=SERIALIZATION_FORMATS,
                        help="how the model is saved: joblib (model.joblib, a pickle, what Azure ML's no-code "
                        "deployment loads) or skops (model.skops, which loads without running code from the file; "
                        "needs skops) (default: joblib)")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse train.py arguments. Raises ``UsageError`` (not SystemExit) on invalid ones."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.label is not None and args.data is None:
        parser.error("--label applies to --data; add --data with the CSV file, or drop --label to train on iris")
    return args


def to_argv(args: argparse.Namespace) -> list[str]:
    """The train.py arguments that reproduce ``args`` (inverse of ``parse_args``)."""
    argv = ["--kernel", args.kernel, "--penalty", repr(args.penalty), "--test-size", repr(args.test_size)]
    if args.probability:
        argv.append("--probability")
    for option, value in (("--data", args.data), ("--label", args.label), ("--output-dir", args.output_dir)):
        if value is not None:
            argv += [option, str(value)]
    if args.serialization_format != "joblib":
        argv += ["--format", args.serialization_format]
    return argv


def params_of(args: argparse.Namespace) -> dict:
    """The training parameters recorded in model.json and the run history."""
    params = {"kernel": args.kernel, "penalty": args.penalty, "test_size": args.test_size,
              "probability": args.probability}
    if args.data is not None:
        params.update(data=str(args.data), label=args.label)
    if args.serialization_format != "joblib":  # recorded when it differs, so joblib runs keep their parameters
        params["format"] = args.serialization_format
    return params


def _positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1 (exclusive), got {text!r}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
