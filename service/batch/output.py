"""The output of a run: append_row lines in Azure's format, kept as one part file per finished mini-batch in
``FILE.partial/`` until the run completes, then joined in input order into ``FILE``; so ``FILE`` exists only when
whole, an interrupted run leaves a directory that says it is partial, and ``--resume`` skips the parts it holds.

Azure's append_row writes each entry run() returns on its own line, with no header: a DataFrame row as its values
joined by single spaces, a list element as itself (or, when it is a sequence, its values joined by spaces). Values
holding a space are quoted, so ``pandas.read_csv(FILE, sep=" ", header=None)`` reads the file back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

MANIFEST = "manifest.json"


class ResumeError(ValueError):
    """``--resume`` was asked for a partial output of another input or configuration (the CLI exits 2)."""


def encode_rows(result) -> bytes:
    """run()'s list, array or DataFrame as append_row lines (module docstring)."""
    if isinstance(result, pd.DataFrame):
        return result.to_csv(sep=" ", header=False, index=False, lineterminator="\n").encode()
    if isinstance(result, np.ndarray) and result.ndim == 1 and result.dtype.kind in "biuf":  # nothing to quote
        return ("\n".join(map(str, result.tolist())) + "\n").encode() if len(result) else b""
    if isinstance(result, np.ndarray) and result.ndim == 2:
        return encode_rows(pd.DataFrame(result))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=" ", lineterminator="\n")
    for entry in result:
        if isinstance(entry, np.ndarray):
            entry = entry.tolist()
        writer.writerow(entry if isinstance(entry, list | tuple) else [entry])
    return buffer.getvalue().encode()


def count_entries(result) -> int:
    """How many entries run() returned (rows of a DataFrame, elements of a list)."""
    return len(result)


class PartialOutput:
    """``FILE.partial/``: a manifest naming the run's input and settings, and ``<index>.part`` per finished mini-batch.

    Parts are written to a temporary name and renamed, so a part that exists is whole.
    """

    def __init__(self, final: Path, signature: dict, *, resume: bool) -> None:
        self.final = Path(final)
        self.directory = self.final.with_name(self.final.name + ".partial")
        self.signature = signature
        manifest = self.directory / MANIFEST
        if resume and manifest.is_file():
            found = json.loads(manifest.read_text())
            if found != signature:
                changed = sorted(k for k in signature.keys() | found.keys() if signature.get(k) != found.get(k))
                raise ResumeError(
                    f"--resume found {self.directory} from a run with other {', '.join(changed)}; a resumed run must "
                    "use the same input, mini_batch_size, input type, method and output action. Rerun with those, "
                    f"or without --resume to start over."
                )
        else:
            if self.directory.exists():
                shutil.rmtree(self.directory)
            self.directory.mkdir(parents=True)
            manifest.write_text(json.dumps(signature, indent=1))
        self.done = {int(p.stem) for p in self.directory.glob("*.part")}

    def write(self, index: int, data: bytes) -> None:
        """Store mini-batch ``index``'s lines (empty for summary_only) as a whole part."""
        part = self.directory / f"{index:09d}.part"
        tmp = part.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, part)
        self.done.add(index)

    def finish(self, write_file: bool) -> None:
        """Join the parts in index order into ``FILE`` (renamed into place whole), then remove ``FILE.partial/``."""
        if write_file:
            tmp = self.final.with_name(self.final.name + ".tmp")
            with open(tmp, "wb") as out:
                for part in sorted(self.directory.glob("*.part")):
                    with open(part, "rb") as handle:
                        shutil.copyfileobj(handle, out, 1 << 20)
            os.replace(tmp, self.final)
        shutil.rmtree(self.directory)
