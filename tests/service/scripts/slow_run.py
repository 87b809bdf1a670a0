"""Undecorated run() that sleeps for the number of seconds in the body (bounded to 30 s), then answers "slept"."""

import time


def init():
    pass


def run(seconds):
    time.sleep(min(float(seconds), 30.0))
    return "slept"
