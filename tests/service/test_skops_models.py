"""Skops models end to end: trained and registered by `python -m training`, served by a real service over every
protocol with the joblib model's answers; files holding types model.json does not trust are refused before any of
their code runs; a pickle swapped in is refused by the sha256 check."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import pytest
import requests
from protocol_helpers import FEATURES, ROWS
from service_helpers import REPO, ServiceProcess, clean_env

from service.model_dir import ModelDirError, UntrustedTypes, load_model
from service.settings import Settings, SettingsError

NAME = "iris"
PAYLOAD_MODULE = "skops_payload_marker"
PAYLOAD_TYPE = f"{PAYLOAD_MODULE}.Payload"
# Importing the module or restoring a Payload each write a marker: proof of whether anything of the file ran.
PAYLOAD_SOURCE = textwrap.dedent(
    """
    import os
    from pathlib import Path

    Path(os.environ["SKOPS_PAYLOAD_MARKER"]).write_text("imported")


    class Payload:
        def __init__(self):
            self.note = "a type no model.json here trusts"

        def __setstate__(self, state):
            Path(os.environ["SKOPS_PAYLOAD_MARKER"]).write_text("restored")
            self.__dict__.update(state)
    """
)


def _training(workspace: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO, capture_output=True, text=True,
                            env=clean_env(SKLEARN_WORKSPACE=str(workspace)), timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> dict[str, Path]:
    """iris version 1 trained with --format joblib, version 2 the same training with --format skops."""
    workspace = tmp_path_factory.mktemp("workspace")
    _training(workspace, "train", "--probability", "--register", NAME)
    _training(workspace, "train", "--probability", "--format", "skops", "--register", NAME)
    dirs = {"joblib": Path(_training(workspace, "models", "path", f"{NAME}:1")),
            "skops": Path(_training(workspace, "models", "path", f"{NAME}:2"))}
    shown = _training(workspace, "models", "show", NAME).splitlines()
    assert "format:             skops (model.skops, model.json format 2)" in shown
    listed = [line.split()[:3] for line in _training(workspace, "models", "list").splitlines()]
    assert listed == [["NAME", "VERSION", "FORMAT"], [NAME, "1", "joblib"], [NAME, "2", "skops"]]
    return dirs


def _answers(url: str) -> dict[str, object]:
    """What each protocol answers for ROWS (the V2 version field dropped: the two models are versions 1 and 2)."""
    records = [dict(zip(FEATURES, row, strict=True)) for row in ROWS]
    tensor = {"name": "input-0", "shape": [len(ROWS), 4], "datatype": "FP64", "data": [v for r in ROWS for v in r]}
    requests_ = {
        "score predict": ("/score", {"data": ROWS}),
        "score predict_proba": ("/score", {"data": ROWS, "method": "predict_proba"}),
        "score records": ("/score", {"data": records}),
        "v2 infer": (f"/v2/models/{NAME}/infer", {"inputs": [tensor]}),
        "kserve v1 predict": (f"/v1/models/{NAME}:predict", {"instances": ROWS}),
        "kserve v1 predict_proba": (f"/v1/models/{NAME}:predict_proba", {"instances": ROWS}),
        "mlflow invocations": ("/invocations", {"dataframe_split": {"columns": FEATURES, "data": ROWS}}),
    }
    answers = {}
    for label, (path, body) in requests_.items():
        response = requests.post(url + path, json=body, timeout=30)
        assert response.status_code == 200, (label, response.text)
        answers[label] = response.json()
    answers["v2 infer"].pop("model_version")
    return answers


def test_a_skops_model_answers_every_protocol_as_the_joblib_model(registered):
    answers = {}
    for serialization, model_dir in registered.items():
        with ServiceProcess.ours("--model_dir", str(model_dir)) as server:
            server.wait_ready()
            answers[serialization] = _answers(server.url)
            assert requests.get(server.url + "/model", timeout=30).json()["serialization_format"] == serialization
    assert answers["skops"] == answers["joblib"]
    model = joblib.load(registered["joblib"] / "model.joblib")  # our own file, just written: one we can vouch for
    expected = model.predict(ROWS).tolist()
    assert len(set(expected)) == 3, "rows of every species, so a wrong model cannot pass by chance"
    assert answers["skops"]["score predict"] == expected
    assert answers["skops"]["v2 infer"]["outputs"][0]["data"] == expected
    assert answers["skops"]["kserve v1 predict"] == {"predictions": expected}
    assert answers["skops"]["kserve v1 predict_proba"]["predictions"] == model.predict_proba(ROWS).tolist()


def test_the_skops_model_directory_records_what_it_trusts(registered):
    sidecar = json.loads((registered["skops"] / "model.json").read_text())
    assert (sidecar["format"], sidecar["model_file"], sidecar["serialization_format"]) == (2, "model.skops", "skops")
    assert sidecar["trusted_types"] == ["sklearn.calibration._CalibratedClassifier",
                                        "sklearn.calibration._SigmoidCalibration"]
    assert sidecar["sha256"] == hashlib.sha256((registered["skops"] / "model.skops").read_bytes()).hexdigest()
    assert json.loads((registered["joblib"] / "model.json").read_text())["format"] == 1


# --- files that must not load ----------------------------------------------------------------------------------------


def _crafted(registered: Path, target: Path, payload_dir: Path, attribute: str) -> Path:
    """A copy of the skops model whose file also holds ``attribute`` (a Payload, or os.system), dumped by skops in a
    subprocess; model.json keeps the recorded trusted types and gets the new file's sha256, as a forger would."""
    shutil.copytree(registered, target)
    (payload_dir / f"{PAYLOAD_MODULE}.py").write_text(PAYLOAD_SOURCE)
    dump = textwrap.dedent(
        f"""
        import os, skops.io, {PAYLOAD_MODULE}
        model = skops.io.load({str(target / "model.skops")!r}, trusted=skops.io.get_untrusted_types(
            file={str(target / "model.skops")!r}))
        model.hook_ = {attribute}
        skops.io.dump(model, {str(target / "model.skops")!r})
        """
    )
    env = clean_env(PYTHONPATH=os.pathsep.join([str(REPO), str(payload_dir)]),
                    SKOPS_PAYLOAD_MARKER=str(payload_dir / "dump-time.marker"))
    subprocess.run([sys.executable, "-c", dump], check=True, env=env, timeout=120)
    sidecar = json.loads((target / "model.json").read_text())
    sidecar["sha256"] = hashlib.sha256((target / "model.skops").read_bytes()).hexdigest()
    (target / "model.json").write_text(json.dumps(sidecar))
    return target


@pytest.fixture
def payload_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "payload"
    directory.mkdir()
    monkeypatch.setenv("SKOPS_PAYLOAD_MARKER", str(tmp_path / "ran.marker"))
    monkeypatch.syspath_prepend(str(directory))
    yield directory
    sys.modules.pop(PAYLOAD_MODULE, None)


@pytest.mark.parametrize(("attribute", "type_name"), [("skops_payload_marker.Payload()", PAYLOAD_TYPE),
                                                       ("os.system", f"{os.system.__module__}.system")])
def test_a_type_model_json_does_not_trust_is_refused_before_anything_runs(
    registered, tmp_path, payload_dir, attribute, type_name
):
    crafted = _crafted(registered["skops"], tmp_path / "crafted", payload_dir, attribute)
    marker = tmp_path / "ran.marker"
    with pytest.raises(UntrustedTypes) as refusal:
        load_model(crafted)
    message = str(refusal.value)
    assert "\n" not in message and f"does not record as trusted: {type_name}." in message
    assert "MODEL_TRUSTED_TYPES" in message
    assert not marker.exists() and PAYLOAD_MODULE not in sys.modules
    # The control: trusted explicitly, the same file loads, and the marker shows what would have run.
    model, _ = load_model(crafted, trusted_types=(type_name,))
    assert model.hook_ is not None
    if type_name == PAYLOAD_TYPE:
        assert marker.read_text() == "restored"


def test_the_service_refuses_to_start_on_an_untrusted_type_unless_the_operator_allows_it(
    registered, tmp_path, payload_dir
):
    crafted = _crafted(registered["skops"], tmp_path / "crafted", payload_dir, "skops_payload_marker.Payload()")
    marker = tmp_path / "server-ran.marker"
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(payload_dir)]), "SKOPS_PAYLOAD_MARKER": str(marker)}
    server = ServiceProcess.ours("--model_dir", str(crafted), env=env)
    assert server.wait_exit() == 3
    [refusal] = [line for line in server.output.splitlines() if "Refusing to start" in line]
    assert f"does not record as trusted: {PAYLOAD_TYPE}." in refusal
    assert not marker.exists() and "Listening at" not in server.output
    with ServiceProcess.ours("--model_dir", str(crafted), env={**env, "MODEL_TRUSTED_TYPES": PAYLOAD_TYPE}) as server:
        server.wait_ready()
        assert requests.post(server.url + "/score", json={"data": ROWS[:1]}, timeout=30).json() == [0]
    assert marker.read_text() == "restored"


class _TouchOnUnpickle:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("serialization", ["joblib", "skops"])
def test_a_pickle_swapped_in_is_refused_by_the_sha256_check(registered, tmp_path, serialization):
    swapped, marker = tmp_path / "swapped", tmp_path / "unpickled"
    shutil.copytree(registered[serialization], swapped)
    model_file = json.loads((swapped / "model.json").read_text())["model_file"]
    (swapped / model_file).write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    server = ServiceProcess.ours("--model_dir", str(swapped))
    assert server.wait_exit() == 3
    [refusal] = [line for line in server.output.splitlines() if "Refusing to start" in line]
    assert f"{model_file} has sha256" in refusal and "the file was changed after training" in refusal
    assert not marker.exists()


def test_a_pickle_named_as_a_skops_file_with_its_own_sha256_is_never_unpickled(registered, tmp_path):
    swapped, marker = tmp_path / "swapped", tmp_path / "unpickled"
    shutil.copytree(registered["skops"], swapped)
    payload = pickle.dumps(_TouchOnUnpickle(marker))
    (swapped / "model.skops").write_bytes(payload)
    sidecar = json.loads((swapped / "model.json").read_text())
    (swapped / "model.json").write_text(json.dumps({**sidecar, "sha256": hashlib.sha256(payload).hexdigest()}))
    with pytest.raises(ModelDirError, match=r"model\.skops is not a skops file that skops can read: BadZipFile"):
        load_model(swapped)
    assert not marker.exists()


def test_model_trusted_types_is_a_list_of_type_names():
    settings = Settings.load(environ={"MODEL_TRUSTED_TYPES": " sklearn.tree._tree.Tree, mypkg.Scaler ,"})
    assert settings.model_trusted_types == ("sklearn.tree._tree.Tree", "mypkg.Scaler")
    assert Settings.load(environ={}).model_trusted_types == ()
    with pytest.raises(SettingsError, match=r"MODEL_TRUSTED_TYPES must be a comma-separated list of fully qualified "
                                            r"type names such as sklearn.tree._tree.Tree, got 'Tree'\."):
        Settings.load(environ={"MODEL_TRUSTED_TYPES": "Tree"})
