"""Local training, run history and model registry for the scikit-learn scoring service (``python -m training``).

The Azure ML job itself lives in ``training/job/`` and is self-contained; this package records local runs of it and
stores the model directories it writes (docs/model-directory.md).
"""
