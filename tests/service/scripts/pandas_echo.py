"""A PandasParameterType entry script as Azure ML's docs write one; run() describes the DataFrame it was given."""

import pandas as pd
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.schema_decorators import input_schema

SAMPLE = pd.DataFrame(
    {
        "sepal_length": [5.1],
        "sepal_width": [3.5],
        "petal_length": [1.4],
        "petal_width": [0.2],
        "petals": pd.Series([3], dtype="int64"),
    }
)


def init():
    pass


@input_schema("data", PandasParameterType(SAMPLE))
def run(data):
    return {
        "columns": [str(c) for c in data.columns],
        "dtypes": [str(t) for t in data.dtypes],
        "index": [str(i) for i in data.index],
        "rows": data.astype(object).values.tolist(),
    }
