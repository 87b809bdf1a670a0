"""init() blocks until the file named by $SLOW_INIT_RELEASE exists (at most 60 s), so readiness can be observed."""

import os
import time


def init():
    release = os.environ["SLOW_INIT_RELEASE"]
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)


def run(data):
    return "ok"
