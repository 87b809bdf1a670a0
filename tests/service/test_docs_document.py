"""/docs and its OpenAPI document through the Flask test client: offline assets, the key, and examples that score."""

from __future__ import annotations

import json
import re

import pytest
from service_helpers import make_client

KEY = "d0cs"


@pytest.fixture(scope="module")
def keyed(iris_model_dir):
    return make_client(None, iris_model_dir, SCORING_API_KEY=KEY)


@pytest.fixture(scope="module")
def document(keyed):
    response = keyed.get("/docs/openapi.json", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200 and response.headers["Vary"] == "Authorization"
    return response.get_json()


def model_details(model_dir) -> list[str]:
    """What only a client with the key may learn: the model's name, version, feature names and input_sample values."""
    sidecar = json.loads((model_dir / "model.json").read_text())
    rows = [json.dumps(row) for row in sidecar["input_sample"]]  # as the document writes them (the next tests check)
    return ["sklearn-iris", "version 1", "/versions/1", *sidecar["feature_names"], *rows]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", KEY])
def test_without_the_key_the_document_is_an_outline(keyed, iris_model_dir, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = keyed.get("/docs/openapi.json", headers=headers)
    assert response.status_code == 200  # open: the page loads it before anyone can Authorize
    outline = response.get_json()
    text = response.get_data(as_text=True)
    assert [detail for detail in model_details(iris_model_dir) if detail in text] == []
    assert outline["components"]["securitySchemes"]["Bearer"]["scheme"] == "bearer"  # the page still shows Authorize
    assert set(outline["paths"]) == {"/", "/health/ready"}
    assert keyed.get("/model").status_code == 401


def test_without_a_configured_key_the_full_document_is_open(nocode, iris_model_dir):
    text = nocode.get("/docs/openapi.json").get_data(as_text=True)
    assert [detail for detail in model_details(iris_model_dir) if detail not in text] == []


@pytest.mark.parametrize(
    ("path", "anonymous", "with_key"),
    [
        (
            "/v2/models/other/ready",
            "Model 'other' is not served here.",
            "Model 'other' is not served here; this service serves model 'sklearn-iris'.",
        ),
        (
            "/v2/models/sklearn-iris/versions/7/ready",
            "Model 'sklearn-iris' version '7' is not served here.",
            "Model 'sklearn-iris' has version 1, not version '7'.",
        ),
        (
            "/v1/models/other",
            "Model 'other' is not served here.",
            "Model 'other' is not served here; this service serves model 'sklearn-iris'.",
        ),
    ],
)
def test_open_routes_404_name_the_model_only_with_the_key(keyed, path, anonymous, with_key):
    """These routes are open; only a client with the key may learn the served model's name and version from them."""
    answer = keyed.get(path)
    assert (answer.status_code, answer.get_json()) == (404, {"error": anonymous})
    answer = keyed.get(path, headers={"Authorization": f"Bearer {KEY}"})
    assert (answer.status_code, answer.get_json()) == (404, {"error": with_key})


def test_page_and_assets_are_served_by_the_service(keyed):
    page = keyed.get("/docs/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']https?:""", html)  # nothing from another origin: works offline
    for asset in re.findall(r"""(?:src|href)=["'](/docs/[^"']+)""", html):
        asset_response = keyed.get(asset)
        asset_response.close()  # a static asset is streamed from an open file; unclosed it warns (an error here)
        assert asset_response.status_code == 200, asset
    assert keyed.get("/docs").status_code == 308


def test_document_completes_the_references(keyed, document, iris_model_dir):
    sample = json.loads((iris_model_dir / "model.json").read_text())["input_sample"]
    schemas = document["components"]["schemas"]
    assert schemas["ServiceInput"]["example"] == {"data": sample, "method": "predict"}
    assert schemas["ServiceInput"]["properties"]["method"]["enum"] == ["predict"]
    assert document["components"]["securitySchemes"] == {
        "Bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The service key (SCORING_API_KEY), without 'Bearer '.",
        }
    }
    reference = json.loads(keyed.get("/swagger.json?version=3", headers={"Authorization": f"Bearer {KEY}"}).data)
    assert set(reference["paths"]) < set(document["paths"])
    assert reference["components"]["securitySchemes"]["Bearer"]["type"] == "apiKey"  # the reference's, untouched


def test_every_example_scores_the_input_sample(keyed, document):
    auth = {"Authorization": f"Bearer {KEY}"}
    expected = keyed.post("/score", json=document["components"]["schemas"]["ServiceInput"]["example"], headers=auth)
    assert expected.status_code == 200
    posts = {path: item["post"] for path, item in document["paths"].items() if "post" in item and path != "/score"}
    assert set(posts) == {"/v2/models/sklearn-iris/versions/1/infer", "/v1/models/sklearn-iris:predict", "/invocations"}
    for path, operation in posts.items():
        example = operation["requestBody"]["content"]["application/json"]["example"]
        assert keyed.post(path, json=example).status_code == 401, path
        answer = keyed.post(path, json=example, headers=auth).get_json()
        predictions = answer["outputs"][0]["data"] if "outputs" in answer else answer["predictions"]
        assert predictions == expected.get_json(), path
