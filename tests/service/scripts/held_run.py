"""Undecorated run() held until the test lets it go, so a test can act while a call is surely in progress: the body
names a directory; run() creates a ``started-*`` file in it (the call has started), waits until ``release`` exists
there (at most 60 s), then answers "released"."""

import threading
import time
from pathlib import Path

LIMIT_S = 60.0


def init():
    pass


def run(directory):
    directory = Path(directory)
    (directory / f"started-{threading.get_ident()}").touch()
    deadline = time.monotonic() + LIMIT_S
    while not (directory / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"
