"""The worker process side of the pool: load the driver and call ``init()`` once per process (Azure's contract),
then run mini-batches, check run()'s count and encode its lines, so the parent only writes bytes."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from service.batch.output import count_entries, encode_rows
from service.batch.scripts import load_driver


@dataclass
class Outcome:
    """What one mini-batch came to: its lines (``data``), or ``error`` (a message, never a traceback)."""

    index: int
    data: bytes = b""
    entries: int = 0
    error: str | None = None
    fatal: bool = False


# A pool initializer can hand its result to the tasks only through the process's module state.
_process: dict = {}


def start(driver_path, environment: dict[str, str]) -> None:
    """Pool initializer: environment, driver, ``init()``. A failure is kept and reported by every task, since a pool
    whose initializer raises would only restart the worker forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how a Ctrl-C ends the run
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.update(environment)
    try:
        driver = load_driver(driver_path)
        driver.init()
        _process["driver"] = driver
    except Exception as exc:  # init() is user code
        _process["init_error"] = f"init() failed: {type(exc).__name__}: {exc}"


def run_one(index: int, payload, input_type: str, items: int, encode: bool) -> Outcome:
    """Call run() on one mini-batch; an exception, or a count Azure would reject, is an error outcome."""
    if "init_error" in _process:
        return Outcome(index, error=_process["init_error"], fatal=True)
    try:
        result = _process["driver"].run(payload)
    except Exception as exc:  # run() is user code; its message is reported, never a traceback
        return Outcome(index, error=f"run() raised {type(exc).__name__}: {exc}")
    if result is None or not hasattr(result, "__len__"):
        return Outcome(index, error=f"run() returned {type(result).__name__}, but a list or DataFrame is expected.")
    entries = count_entries(result)
    if input_type == "tabular" and entries != items:
        return Outcome(index, error=f"run() returned {entries} entries for a mini-batch of {items} rows; Azure "
                       "expects one entry per row.")
    if input_type == "file" and entries < items:
        return Outcome(index, error=f"run() returned {entries} entries for a mini-batch of {items} files; Azure "
                       "expects at least one entry per file.")
    return Outcome(index, encode_rows(result) if encode else b"", entries)
