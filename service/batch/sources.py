"""Input files (one file, or a folder of .csv / .parquet / .jsonl) read as a stream of row chunks, each chunk with its
file and first line, so memory stays bounded by the chunk size and every bad row can be named by file and line."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

FORMATS = (".csv", ".parquet", ".jsonl")
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


class InputError(ValueError):
    """The input path cannot be read as batch input at all (the CLI exits 2)."""


@dataclass
class Chunk:
    """Consecutive rows of one file; ``first_line`` is the 1-based line (row number for Parquet) of ``frame``'s first
    row, and ``bad_rows`` are the rows the reader had to drop, as ``(line, reason)``."""

    path: Path
    first_line: int
    frame: pd.DataFrame
    bad_rows: list[tuple[int, str]] = field(default_factory=list)

    def line_of(self, row: int) -> int:
        """The line of ``frame``'s row ``row`` (0-based), counting the dropped rows before it."""
        line = self.first_line + row
        for bad, _ in sorted(self.bad_rows):
            if bad <= line:
                line += 1
        return line

    @property
    def last_line(self) -> int:
        return self.first_line + len(self.frame) + len(self.bad_rows) - 1


def list_input_files(path: Path) -> list[Path]:
    """The files to score: ``path`` itself, or the supported files directly in the folder ``path``, sorted by name.

    Raises
    ------
    InputError
        ``path`` does not exist, is a file of another format, or is a folder without any supported file.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in FORMATS:
            raise InputError(
                f"Input file {path} has the extension {path.suffix or '(none)'!r}, but batch input must be one of "
                f"{', '.join(FORMATS)}. Convert the file or pass a folder of such files."
            )
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
        if not files:
            raise InputError(
                f"Input folder {path} holds no {', '.join(FORMATS)} file. Point --input at a file or a folder of them."
            )
        return files
    raise InputError(f"Input {path} does not exist. Pass an existing file or folder as --input.")


def read_chunks(path: Path, rows: int, feature_names: list[str] | None = None) -> Iterator[Chunk]:
    """Stream ``path`` in chunks of at most ``rows`` rows (never the whole file at once).

    A CSV file has a header when its first line holds anything but numbers; without one, its columns are named
    ``feature_names`` when the count matches (else 0, 1, ...). A JSONL line is a record (object) or a row (array).
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_chunks(path, rows, feature_names)
    elif suffix == ".parquet":
        yield from _parquet_chunks(path, rows)
    else:
        yield from _jsonl_chunks(path, rows, feature_names)


def read_frame(path: Path, feature_names: list[str] | None = None) -> pd.DataFrame:
    """The whole of one file as a DataFrame (file mode: a driver reads the files of its mini-batch).

    Raises
    ------
    ValueError
        A row the reader had to drop, named by file and line.
    """
    frames = []
    for chunk in read_chunks(path, 65536, feature_names):
        if chunk.bad_rows:
            line, reason = chunk.bad_rows[0]
            raise ValueError(f"{path}, line {line}: {reason}")
        frames.append(chunk.frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def count_rows(path: Path) -> int:
    """Rows of a file without parsing it (for the progress bar's ETA): Parquet metadata, else lines less a header."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 23):
            lines, last = lines + block.count(b"\n"), block[-1:]
    lines += last != b"\n"
    return lines - (path.suffix.lower() == ".csv" and _has_header(path))


def _has_header(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline().rstrip("\r\n")
    return bool(first) and not all(_NUMBER.fullmatch(cell) for cell in first.split(","))


@dataclass
class Span:
    """``lines`` whole lines of a CSV file, bytes ``start``..``end``, starting at line ``first_line``: what a worker
    parses itself, so that CSV parsing runs in the workers, not in the process that plans. ``names`` are the columns:
    the header's, else the model's feature names when the count matches, else "0", "1", ..."""

    path: Path
    start: int
    end: int
    first_line: int
    lines: int
    names: list[str]

    @property
    def last_line(self) -> int:
        return self.first_line + self.lines - 1


def csv_spans(path: Path, rows: int, feature_names: list[str] | None = None) -> Iterator[Span]:
    """Cut a CSV file into spans of ``rows`` lines by scanning for newlines (a block at a time, never the whole file),
    so a row holding a newline inside quotes would be split (documented in the README)."""
    header = _has_header(path)
    if header:
        names = [str(c) for c in pd.read_csv(path, nrows=0).columns]
    else:
        with open(path, encoding="utf-8", errors="replace") as handle:
            width = len(handle.readline().split(","))
        names = feature_names if feature_names and width == len(feature_names) else [str(i) for i in range(width)]
    size = path.stat().st_size
    with open(path, "rb") as handle:
        position, line = 0, 1
        if header:
            handle.readline()
            position, line = handle.tell(), 2
        start, first, count, last = position, line, 0, b"\n"
        while block := handle.read(1 << 23):
            ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + position + 1
            position, last = position + len(block), block[-1:]
            while count + len(ends) >= rows:
                cut = int(ends[rows - count - 1])
                yield Span(path, start, cut, first, rows, names)
                ends = ends[rows - count :]
                start, first, count = cut, first + rows, 0
            count += len(ends)
        if start < size:  # the rest, whose last line may lack its newline
            yield Span(path, start, size, first, count + (last != b"\n"), names)


def read_span(span: Span) -> Chunk:
    """Parse one span into a Chunk with pyarrow's CSV reader; a row with the wrong number of fields is dropped and
    named in ``bad_rows`` (pyarrow reports its line, where pandas' C parser would only warn)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    with open(span.path, "rb") as handle:
        handle.seek(span.start)
        data = handle.read(span.end - span.start)
    bad: list[tuple[int, str]] = []

    def skip(row) -> str:
        line = span.first_line + (row.number - 1 if row.number is not None else 0)
        bad.append((line, f"expected {row.expected_columns} fields, saw {row.actual_columns}"))
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=span.names, use_threads=False),
            parse_options=pa_csv.ParseOptions(invalid_row_handler=skip, ignore_empty_lines=False),
        )
    except pa.ArrowInvalid as exc:
        return Chunk(span.path, span.first_line, pd.DataFrame(), [(span.first_line, f"unreadable CSV: {exc}")])
    return Chunk(span.path, span.first_line, table.to_pandas(), bad)


def _csv_chunks(path: Path, rows: int, feature_names: list[str] | None) -> Iterator[Chunk]:
    for span in csv_spans(path, rows, feature_names):
        yield read_span(span)


def _parquet_chunks(path: Path, rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...: the file is not Parquet
        yield Chunk(path, 1, pd.DataFrame(), [(1, f"not a readable Parquet file: {exc}")])
        return
    line = 1
    for batch in parquet.iter_batches(batch_size=rows):
        frame = batch.to_pandas()
        yield Chunk(path, line, frame)
        line += len(frame)


def _jsonl_chunks(path: Path, rows: int, feature_names: list[str] | None) -> Iterator[Chunk]:
    with open(path, "rb") as handle:
        first, values, bad = 1, [], []
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                bad.append((number, "empty line; every line must be one JSON record or array"))
            else:
                try:
                    value = orjson.loads(raw)
                    if not isinstance(value, dict | list):
                        raise ValueError(f"a JSON {type(value).__name__}, not a record (object) or row (array)")
                    values.append(value)
                except ValueError as exc:
                    bad.append((number, f"not valid JSON ({exc})"))
            if len(values) + len(bad) == rows:
                yield Chunk(path, first, _jsonl_frame(values, feature_names), bad)
                first, values, bad = number + 1, [], []
        if values or bad:
            yield Chunk(path, first, _jsonl_frame(values, feature_names), bad)


def _jsonl_frame(values: list, feature_names: list[str] | None) -> pd.DataFrame:
    if values and all(isinstance(v, list) for v in values):
        width = len(values[0])
        names = feature_names if feature_names and width == len(feature_names) else None
        return pd.DataFrame(values, columns=names)
    return pd.DataFrame(values)
