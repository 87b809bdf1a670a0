"""service.batch.sources on real files: streaming in chunks, header detection, and lines of dropped rows."""

import pytest
from batch_helpers import iris_frame

from service.batch.sources import InputError, list_input_files, read_chunks

NAMES = list(iris_frame().columns)


def test_csv_streams_in_chunks_with_their_first_lines(iris_files):
    chunks = list(read_chunks(iris_files["csv_header"], 64, NAMES))
    assert [len(c.frame) for c in chunks] == [64, 64, 22]
    assert [c.first_line for c in chunks] == [2, 66, 130]  # line 1 is the header
    assert list(chunks[0].frame.columns) == NAMES


def test_csv_without_header_gets_the_models_names_and_starts_at_line_1(iris_files):
    chunk = next(read_chunks(iris_files["csv_plain"], 1000, NAMES))
    assert chunk.first_line == 1 and len(chunk.frame) == 150
    assert list(chunk.frame.columns) == NAMES
    assert chunk.frame.iloc[0].tolist() == iris_frame().iloc[0].tolist()


def test_parquet_streams_in_row_batches(iris_files):
    assert [len(c.frame) for c in read_chunks(iris_files["parquet"], 100)] == [100, 50]


def test_line_of_counts_the_dropped_rows_before_it(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('[1, 2, 3, 4]\nnot json\n[5, 6, 7, 8]\n')
    (chunk,) = read_chunks(path, 10, NAMES)
    assert [line for line, _ in chunk.bad_rows] == [2]
    assert (chunk.line_of(0), chunk.line_of(1), chunk.last_line) == (1, 3, 3)


def test_a_folder_lists_its_supported_files_sorted(tmp_path):
    for name in ("b.csv", "a.parquet", "notes.txt"):
        (tmp_path / name).write_text("")
    assert [p.name for p in list_input_files(tmp_path)] == ["a.parquet", "b.csv"]
    (tmp_path / "a.parquet").unlink()
    (tmp_path / "b.csv").unlink()
    with pytest.raises(InputError, match="holds no .csv, .parquet, .jsonl file"):
        list_input_files(tmp_path)
