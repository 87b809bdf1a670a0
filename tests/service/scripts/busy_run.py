"""Undecorated run(): "quick" answers at once; anything else spins in Python (at most 30 s) until stopped."""

import time


def init():
    pass


def run(data):
    if data == "quick":
        return "quick"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pass
    return "finished"
