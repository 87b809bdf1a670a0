"""A deployment as SDK v1 objects: no-code Model.deploy or an InferenceConfig with a scoring script, on ACI or AKS."""

import json

from training.azure.errors import AzureError
from training.azure.sdk import quiet_vendored_yaml, require_sdk
from training.azure.spec import SAMPLE_ROW, DeploySpec

TARGETS = ("aci", "aks")


def build_deployment_configuration(spec: DeploySpec):
    """``AciWebservice.deploy_configuration`` or ``AksWebservice.deploy_configuration`` with the spec's size.

    Raises
    ------
    AzureError
        Unknown target, AKS without a cluster name, or a size that is not positive.
    """
    if spec.target not in TARGETS:
        raise AzureError(f"Deployment target {spec.target!r} is not supported; expected one of {', '.join(TARGETS)}.")
    if spec.target == "aks" and not spec.aks_cluster:
        raise AzureError("An AKS deployment needs the name of an attached AKS cluster: pass --aks-cluster NAME.")
    if not (spec.cpu_cores > 0 and spec.memory_gb > 0):
        raise AzureError(f"A web service needs cpu_cores > 0 and memory_gb > 0; got {spec.cpu_cores} and "
                         f"{spec.memory_gb}.")
    webservice = require_sdk("azureml.core.webservice")
    service_class = webservice.AciWebservice if spec.target == "aci" else webservice.AksWebservice
    return service_class.deploy_configuration(cpu_cores=spec.cpu_cores, memory_gb=spec.memory_gb,
                                              description=f"{spec.model_name} scoring service")


def build_inference_config(spec: DeploySpec, environment):
    """``InferenceConfig(entry_script, source_directory, environment)`` for a scoring-script deployment.

    Raises
    ------
    AzureError
        The spec has no scoring script or no staged source directory.
    """
    if not spec.entry_script or spec.source_dir is None:
        raise AzureError("A scoring-script deployment needs the entry script and its staged source directory.")
    model = require_sdk("azureml.core.model")
    with quiet_vendored_yaml():
        return model.InferenceConfig(entry_script=spec.entry_script, source_directory=str(spec.source_dir),
                                     environment=environment)


def describe_deployment(spec: DeploySpec, deployment_config, inference_config=None) -> str:
    """What ``deploy --dry-run`` prints: the model, the mode, the scoring script and environment, and the size."""
    version = "latest" if spec.model_version is None else str(spec.model_version)
    settings = {key: value for key, value in vars(deployment_config).items()
                if not key.startswith("_") and value is not None}
    lines = [f"model: {spec.model_name} (version {version})", f"service name: {spec.service_name}",
             f"target: {spec.target}" + (f" (cluster {spec.aks_cluster})" if spec.aks_cluster else "")]
    if inference_config is None:
        lines.append("mode: no-code (Model.deploy with Azure's scikit-learn scoring; the model must be registered "
                     "with framework ScikitLearn)")
    else:
        lines += [f"mode: scoring script {inference_config.entry_script}",
                  f"source directory: {inference_config.source_directory}",
                  f"environment: {inference_config.environment.name}"]
    lines.append(f"deployment configuration ({type(deployment_config).__name__}): {json.dumps(settings, default=str)}")
    return "\n".join(lines)


def sample_request(scoring_uri: str, model_properties: dict | None, *, no_code: bool, auth: bool = False) -> str:
    """A curl command scoring one row: the model's recorded input sample (property ``input_sample``) or iris row 0.

    With ``auth`` the key is read from ``$SERVICE_KEY`` (never printed here).
    """
    try:
        rows = json.loads((model_properties or {}).get("input_sample", "")) or [SAMPLE_ROW]
    except ValueError:
        rows = [SAMPLE_ROW]
    body = {"data": rows[:1], **({"method": "predict"} if no_code else {})}
    header = ' -H "Authorization: Bearer $SERVICE_KEY"' if auth else ""
    return f"curl -s -H 'Content-Type: application/json'{header} -d '{json.dumps(body)}' {scoring_uri}"
