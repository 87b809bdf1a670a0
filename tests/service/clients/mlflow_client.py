"""Drive a running service with MLflow's own scoring-server client (mlflow 3.17.2's ScoringServerClient, from
.venv-mlflow, which bench/mlflow_peer.py builds); print the answers as JSON.

Usage: mlflow_client.py HOST PORT ROWS_JSON FEATURES_JSON; run by tests/service/test_protocol_clients.py.
(Its dict-of-arrays input is left out: mlflow 3.17.2's dump_input_data iterates the dict without .items().)
"""

import json
import sys

import numpy as np
import pandas as pd
from mlflow.environment_variables import MLFLOW_DISABLE_TELEMETRY
from mlflow.pyfunc.scoring_server.client import ScoringServerClient


def main(host: str, port: int, rows: list, features: list) -> dict:
    client = ScoringServerClient(host, port)
    client.wait_server_ready(timeout=30)
    frame = pd.DataFrame(rows, columns=features)
    return {
        "version": client.get_version(),
        "dataframe": client.invoke(frame)["predictions"],
        "ndarray": client.invoke(np.asarray(rows))["predictions"],
        "proba": client.invoke(frame, params={"method": "predict_proba"})["predictions"],
        "telemetry_disabled": MLFLOW_DISABLE_TELEMETRY.get(),  # as MLflow itself reads the setting
    }


if __name__ == "__main__":
    host, port, rows, features = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
    print(json.dumps(main(host, port, rows, features)))
