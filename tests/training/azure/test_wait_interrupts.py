"""Ctrl-C or SIGTERM during ``submit --wait`` (or ``invoke-batch --wait``) stops the wait, not the Azure ML job:
exit 130 / 143, one line saying the job keeps running and how to cancel it, and no cancel request sent.

The job runs forever in the offline fake (fake_arm.py); the signal is sent once the SDK polls the job's details, that
is, while it streams.
"""

import os
import signal
import threading
import time

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")

from fake_arm import RESOURCE_GROUP, WORKSPACE  # noqa: E402

from training.azure.v2 import AzureBackend  # noqa: E402

CLUSTER = {"properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_D2_V2"}}}


def _signal_when_streaming(fake, signum: int, deadline_s: float = 120) -> threading.Thread:
    def watch() -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if any(r.path.endswith("/details") for r in list(fake.requests)):
                os.kill(os.getpid(), signum)  # handled by the CLI's handler, in the main thread
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_wait_leaves_the_job_running_and_says_how_to_cancel_it(fake_azure, cli, monkeypatch, signum):
    fake, client = fake_azure
    fake.add("/computes/cpu-cluster", CLUSTER)
    fake.job_status = "Running"
    monkeypatch.setattr("training.azure.options.get_backend", lambda name: AzureBackend(connect=lambda c: client))
    watcher = _signal_when_streaming(fake, signum)
    code, out, err = cli("submit", "--backend", "v2", "--compute", "cpu-cluster", "--wait")
    watcher.join()

    (job,) = fake.sent("PUT", "^/jobs/")
    name = job.resource.rsplit("/", 1)[1]
    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], err
    assert err.splitlines() == [
        f"interrupted by {signum.name}: stopped waiting; job {name} on Azure ML keeps running. To cancel it: "
        f"az ml job cancel --name {name} --resource-group {RESOURCE_GROUP} --workspace-name {WORKSPACE}"]
    assert not [r for r in fake.requests if r.method == "POST" and "cancel" in r.path.lower()], "not cancelled"


def test_the_interrupt_is_found_behind_the_exception_azureml_core_raises_in_its_place():
    """azureml-core's wait_for_completion turns a KeyboardInterrupt into ExperimentExecutionException, which
    azure_call turns into WorkspaceUnreachable: the wait still ends as the interrupt, not as an unreachable Azure."""
    from azureml.exceptions import ExperimentExecutionException

    from training import interrupts
    from training.azure.workspace import azure_call

    def follow() -> None:  # what Run.wait_for_completion(show_output=True) does on Ctrl-C
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise ExperimentExecutionException("The output streaming for the run interrupted.") from None

    with pytest.raises(KeyboardInterrupt) as caught, interrupts.raised_as_exceptions():
        with interrupts.waiting_on_remote("run r1 on Azure ML", "in the studio"):
            azure_call("follow r1", follow, None)
    assert caught.value.__notes__ == ["stopped waiting; run r1 on Azure ML keeps running. To cancel it: in the studio"]


def test_an_interrupted_batch_scoring_wait_leaves_the_job_running(fake_azure, cli, monkeypatch):
    fake, client = fake_azure
    fake.add("/batchEndpoints/iris-batch", {"location": "westeurope", "properties": {"authMode": "AADToken"}})
    fake.job_status = "Running"
    monkeypatch.setattr("training.azure.options.get_backend", lambda name: AzureBackend(connect=lambda c: client))
    watcher = _signal_when_streaming(fake, signal.SIGINT)
    code, out, err = cli("invoke-batch", "--backend", "v2", "--endpoint-name", "iris-batch", "--input",
                         "azureml://datastores/workspaceblobstore/paths/iris/", "--wait")
    watcher.join()

    assert code == 130, err
    assert out.splitlines()[0] == "Submitted batch scoring job batchjob-1 to endpoint iris-batch"
    assert err.splitlines() == [
        "interrupted by SIGINT: stopped waiting; batch scoring job batchjob-1 on Azure ML keeps running. To cancel "
        f"it: az ml job cancel --name batchjob-1 --resource-group {RESOURCE_GROUP} --workspace-name {WORKSPACE}"]
    assert not [r for r in fake.requests if r.method == "POST" and "cancel" in r.path.lower()], "not cancelled"
