"""A batch endpoint, its deployment and a scoring job over it, as plain data checked before any SDK is imported.

Azure ML batch endpoints exist in SDK v2 only (``BatchEndpoint`` / ``ModelBatchDeployment``); the defaults are
Azure's own (``az ml batch-deployment create`` fills in the same ones), so a deployment made here behaves like one made
from the docs. The CLI builds these; training/azure/v2_batch.py turns them into azure-ai-ml entities.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from training.azure.errors import AzureError
from training.azure.spec import ComputeSpec, EnvironmentSpec

# The Azure-shaped batch driver of the service (init() / run(mini_batch)), relative to the repository.
DEFAULT_DRIVER = "service/batch/driver.py"
OUTPUT_ACTIONS = ("append_row", "summary_only")
INPUT_TYPES = ("uri_folder", "uri_file")
# Azure's rule for endpoint names (unique in the region, part of the scoring URI's host name).
ENDPOINT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]")
DATASTORE_PATH = re.compile(r"azureml://datastores/[^/]+/paths/.+")
DATA_ASSET = re.compile(r"azureml:[^/:@]+(:[^/:@]+|@latest)")
# The output of a model batch deployment is always called ``score`` (Azure's name, not ours).
OUTPUT_NAME = "score"


def check_endpoint_name(name: str) -> None:
    """Refuse a name Azure would refuse, before anything is built or sent.

    Raises
    ------
    AzureError
        With the name and Azure's rule.
    """
    if not ENDPOINT_NAME.fullmatch(name):
        raise AzureError(f"Batch endpoint name {name!r} is not valid: Azure expects 3 to 32 letters, digits and "
                         "hyphens, starting with a letter and not ending with a hyphen, e.g. sklearn-iris-batch.")


@dataclass(frozen=True)
class BatchDeploySpec:
    """A ``BatchEndpoint`` named ``endpoint_name`` whose default deployment runs ``driver`` over a registered model.

    ``driver`` is relative to ``source_dir`` (the staged upload: the service package plus model_format.py). The
    settings are Azure's ``ModelBatchDeploymentSettings``: ``mini_batch_size`` files per ``run()`` call,
    ``max_concurrency_per_instance`` processes per node, ``error_threshold`` failed files before the job fails (-1:
    never), ``retries`` and ``timeout`` (seconds) per mini-batch.
    """

    model_name: str
    endpoint_name: str
    model_version: int | None = None
    deployment_name: str = "blue"
    driver: str = DEFAULT_DRIVER
    source_dir: Path | None = None
    compute: ComputeSpec = field(default_factory=lambda: ComputeSpec("cpu-cluster"))
    environment: EnvironmentSpec = field(default_factory=EnvironmentSpec)
    instance_count: int = 1
    mini_batch_size: int = 10
    max_concurrency_per_instance: int = 1
    error_threshold: int = -1
    output_action: str = "append_row"
    output_file_name: str = "predictions.csv"
    retries: int = 3
    timeout: int = 30
    logging_level: str = "info"

    def check(self) -> None:
        """Refuse what Azure would refuse later (or accept and misbehave on), naming the value and what is expected.

        Raises
        ------
        AzureError
            A bad endpoint name, output action or file name, or a count out of range.
        """
        check_endpoint_name(self.endpoint_name)
        if self.compute.name == "local":
            raise AzureError("A batch deployment runs on a compute cluster, not 'local'; pass --compute NAME "
                             "(with --create-compute to create it).")
        if self.output_action not in OUTPUT_ACTIONS:
            raise AzureError(f"Output action {self.output_action!r} is not supported; expected one of "
                             f"{', '.join(OUTPUT_ACTIONS)}.")
        if not self.output_file_name or "/" in self.output_file_name or "\\" in self.output_file_name:
            raise AzureError(f"Output file name {self.output_file_name!r} must be a plain file name (no folder), "
                             "e.g. predictions.csv; the folder is the job's output (invoke-batch --output-path).")
        counts = {"instance count": (self.instance_count, 1), "mini-batch size": (self.mini_batch_size, 1),
                  "max concurrency per instance": (self.max_concurrency_per_instance, 1),
                  "error threshold": (self.error_threshold, -1), "retries": (self.retries, 0),
                  "timeout": (self.timeout, 1)}
        for what, (value, minimum) in counts.items():
            if value < minimum:
                raise AzureError(f"A batch deployment's {what} is {value}, but Azure expects an integer >= {minimum}.")


@dataclass(frozen=True)
class BatchInvokeSpec:
    """A scoring job over ``input``: a datastore path, a data asset, an https URI, or a local file or folder.

    A local path is uploaded to the workspace's default datastore by azure-ai-ml when the job is submitted.
    ``output_path`` (a datastore folder) is where the deployment's output file goes; None: the job's default output.
    """

    endpoint_name: str
    input: str
    input_type: str | None = None  # None: uri_file for a local file, else uri_folder
    output_path: str | None = None
    deployment_name: str | None = None  # None: the endpoint's default deployment

    @property
    def is_local(self) -> bool:
        """Whether the input is a path on this machine (uploaded with the job) rather than in Azure or on the web."""
        return not self.input.startswith(("azureml:", "https://"))

    def resolved_input_type(self) -> str:
        """``input_type``, or the type the input itself says (a local file: uri_file; anything else: uri_folder).

        Raises
        ------
        AzureError
            The input is none of the accepted forms, a local path that does not exist, or its type contradicts
            ``input_type``; or the output path is not a datastore path.
        """
        check_endpoint_name(self.endpoint_name)
        if self.input_type is not None and self.input_type not in INPUT_TYPES:
            raise AzureError(f"Input type {self.input_type!r} is not supported; expected one of "
                             f"{', '.join(INPUT_TYPES)}.")
        if self.output_path is not None and not DATASTORE_PATH.fullmatch(self.output_path):
            raise AzureError(f"Output path {self.output_path!r} is not a datastore path; expected "
                             "azureml://datastores/NAME/paths/FOLDER/, e.g. "
                             "azureml://datastores/workspaceblobstore/paths/batch-scores/.")
        if self.input.startswith("azureml://") and not DATASTORE_PATH.fullmatch(self.input):
            raise AzureError(f"Input {self.input!r} is not a datastore path; expected "
                             "azureml://datastores/NAME/paths/PATH.")
        if self.input.startswith("azureml:") and not self.input.startswith("azureml://") \
                and not DATA_ASSET.fullmatch(self.input):
            raise AzureError(f"Input {self.input!r} is not a data asset reference; expected azureml:NAME:VERSION "
                             "or azureml:NAME@latest.")
        if not self.is_local:
            return self.input_type or "uri_folder"
        local = Path(self.input)
        if not local.exists():
            raise AzureError(f"Input {self.input!r} is not a local file or folder, nor a datastore path "
                             "(azureml://datastores/NAME/paths/PATH), a data asset (azureml:NAME:VERSION) or an "
                             "https URI.")
        actual = "uri_file" if local.is_file() else "uri_folder"
        if self.input_type not in (None, actual):
            raise AzureError(f"Input {self.input!r} is a local {'file' if local.is_file() else 'folder'}, but "
                             f"--input-type is {self.input_type}; drop --input-type or pass {actual}.")
        return actual
