"""Progress of a run: a tqdm bar (rows, mini-batches, rate, ETA) on a terminal, else nothing until the one summary
line, so logs stay readable."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """Counts rows and mini-batches; draws a bar only when ``stream`` is a terminal."""

    def __init__(self, total_rows: int | None, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.rows = self.batches = self.errors = self.skipped = 0
        self.bar = None
        if self.stream.isatty():
            self.bar = tqdm(total=total_rows, unit=" rows", unit_scale=True, file=self.stream, dynamic_ncols=True)

    def advance(self, rows: int, failed: int = 0) -> None:
        self.rows += rows
        self.errors += failed
        self.batches += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.batches} mini-batches, {self.errors} errors", refresh=False)
            self.bar.update(rows + failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
