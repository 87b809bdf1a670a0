"""create_app() and the start-up check of the model directory, for both layouts (direct and Azure <name>/<version>)."""

from __future__ import annotations

import shutil

import pytest
from service_helpers import make_settings

from service.app import check_model_dir, create_app
from service.model_dir import ModelDirError, resolve_model_dir


def tamper(model_dir):
    with open(model_dir / "model.joblib", "ab") as fh:
        fh.write(b"\0")


def test_direct_and_azure_layouts_are_read(iris_model_dir):
    assert check_model_dir(iris_model_dir).path == iris_model_dir
    azure_root = iris_model_dir.parent.parent  # .../models0 holding sklearn-iris/1
    info = check_model_dir(azure_root)
    assert (info.path, info.name, info.version) == (iris_model_dir, "sklearn-iris", 1)


def test_several_models_or_none_give_no_metadata(tmp_path, iris_model_dir):
    for name in ("a", "b"):
        shutil.copytree(iris_model_dir, tmp_path / "several" / name / "1")
    assert check_model_dir(tmp_path / "several") is None
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "weights.bin").write_bytes(b"x")
    assert check_model_dir(tmp_path / "custom") is None


@pytest.mark.parametrize("layout", ["direct", "azure"])
def test_tampered_model_is_refused_in_both_layouts(tmp_path, iris_model_dir, layout):
    model_dir = tmp_path / "iris" / "3"
    shutil.copytree(iris_model_dir, model_dir)
    tamper(model_dir)
    root = model_dir if layout == "direct" else tmp_path
    with pytest.raises(ModelDirError, match="sha256"):
        check_model_dir(root)
    # Any entry script, even one that never loads the model itself.
    with pytest.raises(ModelDirError, match="sha256"):
        create_app(make_settings("query_echo.py", root))


def test_one_tampered_model_among_several_is_refused(tmp_path, iris_model_dir):
    for name in ("a", "b"):
        shutil.copytree(iris_model_dir, tmp_path / name / "1")
    tamper(tmp_path / "b" / "1")
    with pytest.raises(ModelDirError, match="sha256"):
        check_model_dir(tmp_path)


def test_missing_model_dir_is_refused(tmp_path):
    with pytest.raises(ModelDirError, match="does not exist or is not a directory"):
        check_model_dir(tmp_path / "nope")


def test_a_registered_folder_is_found_like_resolve_model_dir_finds_it(tmp_path, iris_model_dir):
    """<folder>/model.json (a folder registered in Azure ML) is one layout for both the check and the no-code script."""
    shutil.copytree(iris_model_dir, tmp_path / "outputs")
    assert check_model_dir(tmp_path).path == resolve_model_dir(tmp_path) == tmp_path / "outputs"
    tamper(tmp_path / "outputs")
    with pytest.raises(ModelDirError, match="sha256"):
        check_model_dir(tmp_path)
