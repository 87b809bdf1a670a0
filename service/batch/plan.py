"""Mini-batch planning: tabular input as chunks of ``mini_batch_size`` rows (never across files), file input as
groups of ``mini_batch_size`` files (Azure's meaning of the setting for each input type). Planning is deterministic,
so a resumed run numbers its mini-batches as the first run did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from service.batch.sources import Chunk, read_chunks


@dataclass
class MiniBatch:
    """One unit of work: ``index`` (0-based, in input order) and either a chunk of rows or a list of files."""

    index: int
    chunk: Chunk | None = None
    files: list[Path] | None = None

    @property
    def payload(self):
        """What run() receives: a DataFrame (tabular) or a list of path strings (files)."""
        return self.chunk.frame if self.chunk is not None else [str(p) for p in self.files]

    @property
    def size(self) -> int:
        """Items run() gets, which the error threshold counts when it fails: rows (the reader's dropped rows are
        counted on their own) or files."""
        return len(self.chunk.frame) if self.chunk is not None else len(self.files)

    @property
    def where(self) -> str:
        """How messages name it: ``data.csv, lines 2-1001`` or ``files a.csv .. c.csv``."""
        if self.chunk is not None:
            return f"{self.chunk.path}, lines {self.chunk.first_line}-{self.chunk.last_line}"
        return f"files {self.files[0]}" + (f" .. {self.files[-1]}" if len(self.files) > 1 else "")


def plan(files: list[Path], input_type: str, size: int, feature_names: list[str] | None) -> Iterator[MiniBatch]:
    """The mini-batches of ``files``, lazily (tabular chunks are read only when the pool has room for them)."""
    index = 0
    if input_type == "file":
        for start in range(0, len(files), size):
            yield MiniBatch(index, files=files[start : start + size])
            index += 1
        return
    for path in files:
        for chunk in read_chunks(path, size, feature_names):
            if len(chunk.frame) == 0 and not chunk.bad_rows:
                continue
            if len(chunk.frame) == 0:
                chunk.frame = pd.DataFrame()
            yield MiniBatch(index, chunk=chunk)
            index += 1
