"""The worker process side of the pool: load the driver and call ``init()`` once per process (Azure's contract),
then, per mini-batch, parse its rows (CSV is parsed here, not in the parent), call run(), check its count, and encode
its lines, so the parent only plans and writes bytes."""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, field

from service.batch.output import count_entries, encode_rows
from service.batch.scripts import load_driver
from service.batch.sources import Chunk, Span, read_span

_ROW = re.compile(r"\brow (\d+)\b")


@dataclass
class Outcome:
    """What one mini-batch came to: its lines (``data``) and ``entries``, or ``error`` (a message, never a
    traceback) with the ``failed`` items it counts; ``bad_rows`` are rows the reader dropped, as (where, reason)."""

    index: int
    data: bytes = b""
    entries: int = 0
    error: str | None = None
    failed: int = 0
    fatal: bool = False
    bad_rows: list[str] = field(default_factory=list)


# What start() loaded, for run_one(): one driver per worker process, as Azure's contract has it.
_process: dict = {}


def start(driver_path, environment: dict[str, str]) -> None:
    """A worker's start (pool._serve): signals, environment, driver, ``init()``. A failure is kept and reported as
    the outcome of the first mini-batch sent, which fails the run with init()'s message."""
    signal.set_wakeup_fd(-1)  # the parent's, inherited by the fork: its signals are the parent's to see
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how a Ctrl-C ends the run
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.update(environment)
    try:
        driver = load_driver(driver_path)
        driver.init()
        _process["driver"] = driver
    except Exception as exc:  # init() is user code
        _process["init_error"] = f"init() failed: {type(exc).__name__}: {exc}"


def run_one(index: int, payload, encode: bool) -> Outcome:
    """Call run() on one mini-batch (a Span, a Chunk or a list of files); an exception, or a count Azure would
    reject, is an error outcome."""
    if "init_error" in _process:
        return Outcome(index, error=_process["init_error"], fatal=True)
    chunk = read_span(payload) if isinstance(payload, Span) else payload
    if isinstance(chunk, Chunk):
        bad = [f"{chunk.path}, line {line}: {reason}" for line, reason in chunk.bad_rows]
        if len(chunk.frame) == 0:
            return Outcome(index, bad_rows=bad)
        items, unit, mini_batch = len(chunk.frame), "rows", chunk.frame
    else:
        bad, items, unit, mini_batch = [], len(payload), "files", payload
    try:
        result = _process["driver"].run(mini_batch)
    except Exception as exc:  # run() is user code: its message is reported, never a traceback
        return _failed(index, chunk, items, bad, f"run() raised {type(exc).__name__}: {exc}")
    if result is None or not hasattr(result, "__len__"):
        return _failed(index, chunk, items, bad, f"run() returned {type(result).__name__}, but a list or DataFrame "
                       "is expected.")
    entries = count_entries(result)
    if (unit == "rows" and entries != items) or (unit == "files" and entries < items):
        expected = "one entry per row" if unit == "rows" else "at least one entry per file"
        return _failed(index, chunk, items, bad, f"run() returned {entries} entries for a mini-batch of {items} "
                       f"{unit}; Azure expects {expected}.")
    return Outcome(index, encode_rows(result) if encode else b"", entries, bad_rows=bad)


def _failed(index: int, chunk, items: int, bad: list[str], message: str) -> Outcome:
    """An error outcome whose message names the file line of the row it mentions (the driver sees rows)."""
    if isinstance(chunk, Chunk):
        match = _ROW.search(message)
        if match and int(match.group(1)) < len(chunk.frame):
            message = f"line {chunk.line_of(int(match.group(1)))}: {message}"
        message = f"{chunk.path}, lines {chunk.first_line}-{chunk.last_line}: {message}"
    return Outcome(index, error=message, failed=items, bad_rows=bad)
