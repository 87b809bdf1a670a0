"""Other serving protocols for no-code scoring of a model directory: Open Inference Protocol V2, KServe V1, MLflow,
and the /docs "try it" page.

Each protocol is a codec over the path /score takes (service.protocols.scoring): it decodes its request into the
rows the no-code script converts, runs the script through the worker's Runner and encodes the answer. They add
routes only; /score's view and hooks do no extra work for them. An entry script of the user's keeps /score only.
"""

from __future__ import annotations

from flask import Flask

from service.conversion import FeatureMatrixType


def register(app: Flask) -> list:
    """Add the protocols' routes to ``app`` when it scores a model directory with the no-code script; returns their
    scoring routes for service.fast_score."""
    scoring = app.extensions["scoring"]
    matrix_type = scoring.runner.script.schema_types.get("data")
    if not scoring.settings.is_no_code or scoring.model_info is None or not isinstance(matrix_type, FeatureMatrixType):
        return []
    from service.protocols import docs, kserve_v1, mlflow, v2
    from service.protocols.scoring import ServedModel

    model = ServedModel.of(scoring.model_info, matrix_type)
    v2_blueprint, v2_infer = v2.blueprint(model)
    mlflow_blueprint, mlflow_invocations = mlflow.blueprint(model)
    for blueprint in (
        v2_blueprint,
        kserve_v1.blueprint(model),
        mlflow_blueprint,
        docs.blueprint(model, scoring.swagger.get("3"), scoring.settings.service_name),
    ):
        app.register_blueprint(blueprint)
    return [v2_infer, mlflow_invocations]
