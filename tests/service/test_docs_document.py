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
    response = keyed.get("/docs/openapi.json")  # open: the page loads it before anyone can Authorize
    assert response.status_code == 200
    return response.get_json()


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
