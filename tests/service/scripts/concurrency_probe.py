"""Undecorated run() that reports the largest number of run() calls it ever saw at the same time."""

import threading
import time

lock = threading.Lock()
active = 0
most = 0


def init():
    pass


def run(data):
    global active, most
    with lock:
        active += 1
        most = max(most, active)
    time.sleep(0.2)
    with lock:
        active -= 1
    return most
