"""A batch driver in the shape of Azure ML's published examples: init() loads the model from AZUREML_MODEL_DIR,
run(mini_batch) reads each file with pandas and returns the rows' predictions with the file name.

Test additions: init() appends its pid to $INIT_LOG, so a test can count init() calls per process.
"""

import os

import joblib
import pandas as pd

model = None


def init():
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib")
    model = joblib.load(model_path)
    with open(os.environ["INIT_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")


def run(mini_batch):
    results = []
    for file_path in mini_batch:
        data = pd.read_csv(file_path, header=None)
        pred = model.predict(data.values)
        df = pd.DataFrame(pred, columns=["predictions"])
        df["file"] = os.path.basename(file_path)
        results.extend(df.values)
    return results
