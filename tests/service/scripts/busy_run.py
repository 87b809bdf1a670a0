"""Undecorated run(): "spin" loops in Python (at most 30 s) until stopped; "stopped?" says whether a spin has ended."""

import time

state = {"spins_ended": 0}


def init():
    pass


def run(data):
    if data == "stopped?":
        return state["spins_ended"]
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            pass
    finally:
        state["spins_ended"] += 1
    return "finished"
