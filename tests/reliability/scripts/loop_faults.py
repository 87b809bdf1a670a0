"""run() for the worker-loop tests: a number sleeps that many seconds (bounded to 5 s); "break-loop" closes the
worker's epoll descriptor, a real fault of the loop's selector (its next select() or register() raises);
"<seconds> <path>" creates the file at path (the call has started), then sleeps."""

import os
import time


def init():
    pass


def run(data):
    if data == "break-loop":
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]":
                    os.close(int(fd))
            except OSError:
                pass
        return "broken"
    seconds, _, started = data.partition(" ")
    if started:
        open(started, "w").close()
    time.sleep(min(float(seconds), 5.0))
    return "slept"
