"""Mini-batch planning: tabular input as ``mini_batch_size`` rows (lines of a CSV file, rows of Parquet or JSONL;
never across files), file input as groups of ``mini_batch_size`` files (Azure's meaning of the setting for each
input type). Planning is deterministic, so a resumed run numbers its mini-batches as the first run did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service.batch.sources import Chunk, Span, csv_spans, read_chunks


@dataclass
class MiniBatch:
    """One unit of work: ``index`` (0-based, in input order) and its rows (a CSV span the worker parses, or a chunk
    already read) or its files."""

    index: int
    rows: Span | Chunk | None = None
    files: list[Path] | None = None

    @property
    def payload(self):
        """What the worker gets: the span or chunk (tabular), or a list of path strings (files)."""
        return self.rows if self.rows is not None else [str(p) for p in self.files]

    @property
    def size(self) -> int:
        """Rows (lines of a span, rows and dropped rows of a chunk) or files: what a failure of the whole mini-batch
        counts against the error threshold."""
        if isinstance(self.rows, Span):
            return self.rows.lines
        if isinstance(self.rows, Chunk):
            return len(self.rows.frame) + len(self.rows.bad_rows)
        return len(self.files)

    @property
    def where(self) -> str:
        """How messages name it: ``data.csv, lines 2-1001`` or ``files a.csv .. c.csv``."""
        if self.rows is not None:
            return f"{self.rows.path}, lines {self.rows.first_line}-{self.rows.last_line}"
        return f"files {self.files[0]}" + (f" .. {self.files[-1]}" if len(self.files) > 1 else "")


def plan(files: list[Path], input_type: str, size: int, feature_names: list[str] | None) -> Iterator[MiniBatch]:
    """The mini-batches of ``files``, lazily (rows are cut or read only when the pool has room for them)."""
    index = 0
    if input_type == "file":
        for start in range(0, len(files), size):
            yield MiniBatch(index, files=files[start : start + size])
            index += 1
        return
    for path in files:
        csv = path.suffix.lower() == ".csv"
        rows = csv_spans(path, size, feature_names) if csv else read_chunks(path, size, feature_names)
        for part in rows:
            yield MiniBatch(index, rows=part)
            index += 1
