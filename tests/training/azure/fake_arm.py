"""An in-memory Azure Resource Manager + blob store for azure-ai-ml, recording every HTTP request it answers.

Mounted as the only adapter of the ``requests.Session`` behind the ``MLClient`` transport (and, for the blob clients
azure-ai-ml builds without that transport, in place of ``HTTPAdapter.send``). It answers like the service would for
what the v2 backend calls: a PUT stores the body and returns it with ``id``, ``name`` and ``provisioningState:
Succeeded`` (a job also "writes" ``job_outputs`` to its artifact blobs and ends as ``job_status``); an online
deployment PUT is answered as the service does, asynchronously: 201 + ``Azure-AsyncOperation``, whose operation ends
as ``deployment_state``; a GET returns what is stored or 404; a code-asset hash lookup finds an existing asset (so the
job snapshot is not uploaded); the datastores, their key, the workspace and its discovery document are canned; blobs
are kept by path and listed, as are an endpoint's deployments; a batch endpoint's scoring URI takes a job (POST) and
answers the workspace job it started.
"""

import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

import requests
import urllib3
from azure.core.credentials import AccessToken, AccessTokenInfo
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-offline"
WORKSPACE = "ws-offline"
ARM = "https://management.azure.com"
WORKSPACE_PATH = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
                  f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}")
STORAGE = "https://fakestore.blob.core.windows.net/azureml-blobstore"
CODE_URI = f"{STORAGE}/LocalUpload/0000/job"
REGION_API = "https://westeurope.api.azureml.ms"
DISCOVERY = f"{REGION_API}/discovery"
JOB_LOG = b"Accuracy of SVM classifier on test set: 0.97\n"  # what a streamed job log says
DEPLOYMENT_LOG = "Model directory check failed: model.json not found"  # what a failed deployment's log says
OPERATIONS = f"{ARM}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.MachineLearningServices/locations/westeurope/" \
             "mfeOperationsStatus"  # where the service reports its asynchronous operations
BATCH_SCORING = "https://{name}.westeurope.inference.ml.azure.com/jobs"  # where a batch endpoint takes jobs
JOB_ERROR = {"code": "UserError", "message": "Execution failed: ValueError: unknown kernel"}  # a failed job's error
DEPLOYMENT_ERROR = {"code": "ResourceNotReady", "message": "User container has crashed or terminated."}


@dataclass(frozen=True)
class Request:
    """One recorded request: method, URL without the query, the query, and the body (JSON parsed when it is)."""

    method: str
    path: str
    query: str
    body: object

    @property
    def resource(self) -> str:
        """The path below the workspace, e.g. ``/jobs/<name>`` (the full path outside ARM)."""
        return self.path.split(WORKSPACE_PATH, 1)[-1] if WORKSPACE_PATH in self.path else self.path


class FakeCredential:
    """A credential that always has a token (what DefaultAzureCredential returns once signed in)."""

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken("offline-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None) -> AccessTokenInfo:
        return AccessTokenInfo("offline-token", int(time.time()) + 3600)


class FakeAzure(BaseAdapter):
    """The in-memory service; ``requests`` lists what it was sent, ``blobs`` what was uploaded."""

    def __init__(self):
        super().__init__()
        self.job_outputs: Path | None = None  # the folder every job "writes" to its outputs/ when it is created
        self.requests: list[Request] = []
        self.resources: dict[str, dict] = {}
        self.blobs: dict[str, bytes] = {}
        self.job_status = "Completed"  # what every job ends as
        self.deployment_state = "Succeeded"  # what every online deployment's creation ends as
        self.operations: dict[str, str] = {}  # asynchronous operation id -> its final status

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        path = unquote(url.path)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        recorded = Request(request.method, f"{url.scheme}://{url.netloc}{path}", url.query, parsed)
        self.requests.append(recorded)
        status, payload, *headers = self._answer(recorded, body)
        response = _response(request, status, payload)
        response.headers.update(*headers)
        if recorded.path.startswith(STORAGE) and status == 200:  # what blob downloads and listings read
            response.headers.update({"Content-Type": "application/xml" if payload.startswith(b"<?xml")
                                     else "application/octet-stream", "x-ms-blob-type": "BlockBlob",
                                     "ETag": '"0x1"', "Last-Modified": "Wed, 02 Dec 2026 07:00:00 GMT",
                                     "Content-Range": f"bytes 0-{max(len(payload) - 1, 0)}/{len(payload)}"})
        return response

    def close(self) -> None:
        """Nothing to release."""

    def sent(self, method: str | None = None, pattern: str = "") -> list[Request]:
        """Recorded requests with ``method`` whose workspace-relative resource matches ``pattern`` (regex)."""
        return [r for r in self.requests
                if (method is None or r.method == method) and re.search(pattern, r.resource)]

    def _answer(self, request: Request, raw: bytes | None) -> tuple[int, object]:
        path = request.path
        if path.startswith(STORAGE):
            key = path[len(STORAGE) + 1:]
            if request.method == "PUT" and "comp=metadata" in request.query:
                return 200, b""
            if request.method == "PUT":
                self.blobs[key] = raw or b""
                return 201, b""
            if request.method == "GET" and "comp=list" in request.query:
                return 200, _blob_listing(self.blobs, unquote(re.search(r"prefix=([^&]*)", request.query)[1]))
            return (200, self.blobs[key]) if request.method == "GET" and key in self.blobs else (404, b"")
        if request.method == "POST" and path.endswith("/history/v1.0" + WORKSPACE_PATH + "/rundata"):
            return 200, {"runMetadata": {"runId": request.body.get("runId"), "outputs": {}}}
        details = re.search(r"/history/v1\.0/.*/runs/([^/]+)/details$", path)
        if details:
            log = f"ExperimentRun/dcid.{details.group(1)}/user_logs/std_log.txt"
            self.blobs.setdefault(log, JOB_LOG)
            failed = {"error": {"error": JOB_ERROR}} if self.job_status == "Failed" else {}
            return 200, {"runId": details.group(1), "status": self.job_status,
                         "logFiles": {"user_logs/std_log.txt": f"{STORAGE}/{log}"}, **failed}
        if request.method == "GET" and "hash=" in request.query and path.endswith("/versions"):
            asset = self.store(path + "/1", {"properties": {"codeUri": CODE_URI}})
            return 200, {"value": [asset]}
        if request.method == "GET" and re.search(r"/datastores/workspace(blob|artifact)store$", path):
            return 200, _datastore(path.rsplit("/", 1)[1])
        if request.method == "GET" and path.endswith("/datastores") and "isDefault=true" in request.query:
            return 200, {"value": [_datastore("workspaceblobstore")]}
        if request.method == "GET" and path == ARM + WORKSPACE_PATH:
            return 200, {"id": WORKSPACE_PATH, "name": WORKSPACE, "location": "westeurope", "properties": {
                "discoveryUrl": DISCOVERY,
                "mlFlowTrackingUri": f"azureml://westeurope.api.azureml.ms/mlflow/v1.0{WORKSPACE_PATH}"}}
        if path == DISCOVERY:
            return 200, {key: REGION_API for key in ("api", "catalog", "experimentation", "history", "mfe",
                                                     "pipelines", "gallery", "modelmanagement")}
        if request.method == "POST" and path.endswith("/listSecrets"):
            return 200, {"secretsType": "AccountKey", "key": "b2ZmbGluZQ=="}
        if request.method == "POST" and path.endswith("/getLogs"):
            return 200, {"content": DEPLOYMENT_LOG}
        if request.method == "POST" and path.endswith("/listKeys"):
            return 200, {"primaryKey": "primary-offline", "secondaryKey": "secondary-offline"}
        if request.method == "POST" and re.fullmatch(BATCH_SCORING.format(name="[^./]+"), path):
            return self._batch_job(request.body)
        if request.method == "PUT" and re.search(r"/(online|batch)Endpoints/[^/]+/deployments/[^/]+$", path):
            return self._accept_deployment(path, request.body)
        if request.method == "GET" and path.startswith(OPERATIONS + "/"):
            status = self.operations[path.rsplit("/", 1)[1]]
            return 200, {"status": status, **({"error": DEPLOYMENT_ERROR} if status == "Failed" else {})}
        if request.method == "PUT":
            return 200, self.store(path, json.loads(json.dumps(request.body)))
        if request.method == "GET" and re.search(r"/(online|batch)Endpoints/[^/]+/deployments$", path):
            return 200, {"value": [body for key, body in self.resources.items() if key.rsplit("/", 1)[0] == path]}
        if request.method == "GET" and path in self.resources:
            return 200, self.resources[path]
        return 404, {"error": {"code": "NotFound", "message": f"{path} not found (offline fake)"}}

    def _accept_deployment(self, path: str, body: dict) -> tuple[int, dict, dict]:
        """201 + ``Azure-AsyncOperation``; the stored deployment and the operation end as ``deployment_state``."""
        stored = self.store(path, json.loads(json.dumps(body)))
        stored["properties"]["provisioningState"] = self.deployment_state
        operation = f"op-{len(self.operations) + 1}"
        self.operations[operation] = self.deployment_state
        creating = json.loads(json.dumps(stored))
        creating["properties"]["provisioningState"] = "Creating"
        return 201, creating, {"Azure-AsyncOperation": f"{OPERATIONS}/{operation}?api-version=2023-04-01"}

    def _batch_job(self, body: dict) -> tuple[int, dict]:
        """A batch endpoint's answer to an invocation: the scoring job it started, also kept as a workspace job."""
        name = f"batchjob-{sum(r.path.endswith('.inference.ml.azure.com/jobs') for r in self.requests)}"
        job = self.add(f"/jobs/{name}", {"properties": {"jobType": "Pipeline", "experimentName": "iris-batch",
                                                       "properties": {}, "jobs": {}, "inputs": {}}})
        return 200, {"id": job["id"], "name": name, "properties": {**body["properties"], "status": "Queued"}}

    def add(self, resource: str, body: dict) -> dict:
        """Put ``body`` at ``resource`` below the workspace (e.g. ``/computes/cpu-cluster``), as if it existed."""
        return self.store(ARM + WORKSPACE_PATH + resource, body)

    def store(self, path: str, resource: dict) -> dict:
        """Keep ``resource`` at ``path`` with what the service adds (id, name, states) and return it."""
        name = path.rsplit("/", 1)[1]
        properties = resource.setdefault("properties", {})
        properties["provisioningState"] = "Succeeded"
        if "/jobs/" in path:
            artifacts = f"ExperimentRun/dcid.{name}"
            properties.update(status=self.job_status, services={"Studio": {
                "jobServiceType": "Studio", "endpoint": f"https://ml.azure.com/runs/{name}"}})
            properties.setdefault("outputs", {})["default"] = {
                "jobOutputType": "uri_folder", "uri": f"azureml://datastores/workspaceartifactstore/paths/{artifacts}"}
            for file in sorted(self.job_outputs.iterdir()) if self.job_outputs else ():
                self.blobs[f"{artifacts}/outputs/{file.name}"] = file.read_bytes()
        if "/models/" in path:
            properties.setdefault("flavors", {})
        if "/deployments/" in path:
            properties.setdefault("scaleSettings", {"scaleType": "Default"})
        elif "/onlineEndpoints/" in path:
            properties["scoringUri"] = f"https://{name}.westeurope.inference.ml.azure.com/score"
        elif "/batchEndpoints/" in path:
            properties["scoringUri"] = BATCH_SCORING.format(name=name)
        resource.update(id=path[len(ARM):], name=name)
        self.resources[path] = resource
        return resource


def _blob_listing(blobs: dict[str, bytes], prefix: str) -> bytes:
    """The container listing (List Blobs XML) of the blobs under ``prefix``."""
    entries = "".join(
        f"<Blob><Name>{escape(name)}</Name><Properties><Last-Modified>Wed, 02 Dec 2026 07:00:00 GMT</Last-Modified>"
        f"<Etag>0x1</Etag><Content-Length>{len(content)}</Content-Length><BlobType>BlockBlob</BlobType>"
        "</Properties><Metadata /></Blob>"
        for name, content in sorted(blobs.items()) if name.startswith(prefix))
    return (f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="{STORAGE.rsplit("/", 1)[0]}/"'
            f' ContainerName="azureml-blobstore"><Prefix>{escape(prefix)}</Prefix><Blobs>{entries}</Blobs>'
            "<NextMarker /></EnumerationResults>").encode()


def _datastore(name: str) -> dict:
    return {"id": f"{WORKSPACE_PATH}/datastores/{name}", "name": name, "properties": {
        "datastoreType": "AzureBlob", "accountName": "fakestore", "containerName": "azureml-blobstore",
        "endpoint": "core.windows.net", "protocol": "https", "isDefault": name == "workspaceblobstore",
        "credentials": {"credentialsType": "AccountKey"}}}


def _response(request, status: int, payload) -> requests.Response:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = requests.Response()
    response.status_code = status
    response.reason = "OK" if status < 400 else "Not Found"
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json", "Content-Length": str(len(content)),
                                            "x-ms-request-id": "offline"})
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(content), headers=dict(response.headers), status=status,
                                        preload_content=False)
    response._content = content
    response.url = request.url
    response.request = request
    response.encoding = "utf-8"
    return response
