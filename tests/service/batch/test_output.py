"""append_row encoding: the fast path for repeating labels writes exactly what one str() per value writes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from service.batch.output import encode_rows


def _one_str_per_value(values: np.ndarray) -> bytes:
    return "".join(f"{value}\n" for value in values.tolist()).encode()


@settings(max_examples=300, deadline=None)
@given(
    dtype=st.sampled_from([np.int64, np.int8, np.uint16, np.float64, np.float32, np.bool_]),
    distinct=st.integers(1, 40),
    size=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
)
def test_labels_are_encoded_as_one_str_per_value(dtype, distinct, size, seed):
    rng = np.random.default_rng(seed)
    pool = np.concatenate([rng.normal(0, 1e3, distinct), [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, 1e300]])
    values = rng.choice(pool, size)
    with np.errstate(invalid="ignore", over="ignore"):
        values = values.astype(dtype) if np.dtype(dtype).kind == "f" else np.nan_to_num(values).astype(dtype)
    assert encode_rows(values) == _one_str_per_value(values)


@given(hnp.arrays(np.float64, st.integers(0, 600)))
def test_any_float_array_is_encoded_as_one_str_per_value(values):
    assert encode_rows(values) == _one_str_per_value(values)
