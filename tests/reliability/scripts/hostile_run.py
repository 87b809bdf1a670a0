"""Undecorated run() that misbehaves as the body says, each way bounded in time and memory so a test can never hang:
``block`` sleeps in C for at most 60 s, ``allocate`` keeps allocating (at most 256 MiB, then churns the same
amount) for at most 60 s, ``swallow`` spins in Python for at most 60 s catching every exception raised into it."""

import time

LIMIT_S = 60.0
MAX_BYTES = 256 * 2**20


def init():
    pass


def run(kind):
    deadline = time.monotonic() + LIMIT_S
    if kind == "block":
        time.sleep(LIMIT_S)
    elif kind == "allocate":
        held, size = [], 0
        while time.monotonic() < deadline:
            held.append(bytearray(2**20))
            size += 2**20
            if size >= MAX_BYTES:
                held, size = [], 0
    elif kind == "swallow":
        while time.monotonic() < deadline:
            try:
                while time.monotonic() < deadline:
                    pass
            except BaseException:  # noqa: BLE001 - the point: an interrupt is swallowed
                continue
    return kind
