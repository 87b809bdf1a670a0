"""Batch test fixtures: the iris rows written as real files in every supported format."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_helpers import iris_frame


@pytest.fixture(scope="session")
def iris_files(tmp_path_factory) -> dict[str, Path]:
    """The 150 iris rows as CSV with a header, CSV without one, Parquet and JSONL."""
    folder = tmp_path_factory.mktemp("iris-files")
    frame = iris_frame()
    paths = {
        "csv_header": folder / "a-header.csv",
        "csv_plain": folder / "b-plain.csv",
        "parquet": folder / "c.parquet",
        "jsonl": folder / "d.jsonl",
    }
    frame.to_csv(paths["csv_header"], index=False)
    frame.to_csv(paths["csv_plain"], index=False, header=False)
    frame.to_parquet(paths["parquet"])
    frame.to_json(paths["jsonl"], orient="records", lines=True)
    return paths
