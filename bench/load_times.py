"""`python -m bench.load_times`: how long the service's load_model takes for a joblib and a skops model file.

Command line: ``python -m bench.load_times [--rounds N]``. For the plain iris SVC (the model the service benchmarks
serve) and a 100-tree random forest on iris, it writes each model both ways (joblib: format 1; skops: format 2 with
the types ``skops.io.get_untrusted_types`` lists) and times ``service.model_dir.load_model`` on each, the two formats
alternating round by round so that a busy machine slows both alike:

- *first load*: in a fresh ``python`` process, the one load a worker does at start (imports of joblib or skops and of
  the estimator's modules included, the interpreter start and ``import service.model_dir`` not);
- *warm load*: again in this process, the format's modules already imported;
- *type check*: of the warm skops load, the part that reads the file's types before loading
  (``model_format.check_trusted_types``).

Every figure is the median of ``--rounds`` measurements. Prints a markdown table; exit 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import model_format
from bench.args import positive_int
from bench.servers import REPO_ROOT
from bench.workloads import PLAIN, write_model_dirs
from service.model_dir import load_model

FORMATS = ("joblib", "skops")
_FIRST_LOAD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from service.model_dir import load_model\n"
    "start = time.perf_counter()\n"
    "load_model(Path(sys.argv[1]))\n"
    "print(time.perf_counter() - start)\n"
)


def write_both(model, template: dict, target: Path) -> dict[str, Path]:
    """``model`` saved as ``target/joblib`` and ``target/skops``, each with model.json from ``template`` (the iris
    sidecar: same features and sample rows) adjusted to the file and the estimator."""
    import skops.io

    dirs = {}
    for name in FORMATS:
        directory = target / name
        directory.mkdir(parents=True)
        sidecar = {key: value for key, value in template.items() if key not in ("format", "model_file", "sha256")}
        model_file, version = model_format.SERIALIZATIONS[name]
        path = directory / model_file
        if name == "skops":
            skops.io.dump(model, path)
            sidecar.update(serialization_format="skops", trusted_types=skops.io.get_untrusted_types(file=path))
        else:
            joblib.dump(model, path)
        sample = np.asarray(template["input_sample"])
        sidecar.update(format=version, model_file=model_file, sha256=model_format.sha256_file(path),
                       estimator=f"{type(model).__module__}.{type(model).__qualname__}",
                       has_predict_proba=hasattr(model, "predict_proba"),
                       output_sample=np.asarray(model.predict(sample)).tolist())
        model_format.write_sidecar(directory, sidecar)
        dirs[name] = directory
    return dirs


def models(target: Path) -> dict[str, dict[str, Path]]:
    """The two models of the table, each written both ways under ``target``."""
    iris_dir = write_model_dirs(target / "fixture")[PLAIN]
    template = json.loads((iris_dir / "model.json").read_text())
    iris_svc = joblib.load(iris_dir / "model.joblib")  # written just above by the fixture writer: ours to vouch for
    X, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y)
    return {
        "iris SVC (linear)": write_both(iris_svc, template, target / "svc"),
        "random forest, 100 trees": write_both(forest, template, target / "forest"),
    }


def first_load_s(model_dir: Path) -> float:
    """Seconds of one load_model in a fresh interpreter (measured inside it)."""
    done = subprocess.run([sys.executable, "-c", _FIRST_LOAD, str(model_dir)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def warm_load_s(model_dir: Path) -> float:
    start = time.perf_counter()
    load_model(model_dir)
    return time.perf_counter() - start


def type_check_s(model_dir: Path) -> float:
    sidecar = model_format.read_sidecar(model_dir)
    start = time.perf_counter()
    model_format.check_trusted_types(model_dir / sidecar["model_file"], sidecar)
    return time.perf_counter() - start


def measure(dirs: dict[str, Path], rounds: int) -> dict[str, float]:
    """Median first, warm and (skops) type-check times in ms, the formats alternating within each round."""
    for directory in dirs.values():
        load_model(directory)  # the warm loads then find every module imported
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, directory in dirs.items():
            samples.setdefault(f"{name} first", []).append(first_load_s(directory))
            samples.setdefault(f"{name} warm", []).append(warm_load_s(directory))
        samples.setdefault("skops type check", []).append(type_check_s(dirs["skops"]))
    return {key: statistics.median(values) * 1000 for key, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_times", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive_int, default=5, help="measurements per figure (default: 5)")
    args = parser.parse_args(argv)
    print(f"load_model, median of {args.rounds} rounds (ms); file sizes in KB")
    print()
    print("| model | joblib file | skops file | first load joblib | first load skops | warm joblib | warm skops "
          "| of which skops type check |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="load-times-") as tmp:
        for label, dirs in models(Path(tmp)).items():
            ms = measure(dirs, args.rounds)
            sizes = [(dirs[name] / model_format.SERIALIZATIONS[name][0]).stat().st_size / 1000 for name in FORMATS]
            print(f"| {label} | {sizes[0]:.0f} | {sizes[1]:.0f} | {ms['joblib first']:.1f} | "
                  f"{ms['skops first']:.1f} | {ms['joblib warm']:.1f} | {ms['skops warm']:.1f} | "
                  f"{ms['skops type check']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
