"""Drive a running service with KServe's own InferenceRESTClient (kserve 0.21.0, from .venv-kserve); print JSON.

Usage: kserve_client.py BASE_URL MODEL ROWS_JSON [API_KEY]. Run by tests/service/test_protocol_clients.py in a
subprocess, because kserve cannot share the test venv (it requires pandas<3).
"""

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(base_url: str, model: str, rows: list, key: str | None) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    answers = {}
    async with InferenceRESTClient(RESTConfig(protocol="v1")) as v1:
        answers["v1_model_ready"] = await v1.is_model_ready(base_url, model, headers=headers)
        answers["v1_predict"] = await v1.infer(base_url, {"instances": rows}, model_name=model, headers=headers)
    async with InferenceRESTClient(RESTConfig(protocol="v2")) as v2:
        answers["v2_server_live"] = await v2.is_server_live(base_url, headers=headers)
        answers["v2_server_ready"] = await v2.is_server_ready(base_url, headers=headers)
        answers["v2_model_ready"] = await v2.is_model_ready(base_url, model, headers=headers)
        for method in ("predict", "predict_proba"):
            tensor = InferInput("input-0", [len(rows), len(rows[0])], "FP64")
            tensor.set_data_from_numpy(np.asarray(rows, dtype=np.float64))
            request = InferRequest(model, [tensor], request_id=f"kserve-{method}", parameters={"method": method})
            response = await v2.infer(base_url, request, model_name=model, headers=headers)
            output = response.outputs[0]
            answers[f"v2_{method}"] = {
                "id": response.id,
                "name": output.name,
                "datatype": output.datatype,
                "values": output.as_numpy().tolist(),
            }
    return answers


if __name__ == "__main__":
    key = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), key))))
