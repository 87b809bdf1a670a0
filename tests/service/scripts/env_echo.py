"""Undecorated run() that prints and returns the environment it sees: what the server exported to user code."""

import os


def init():
    print("hello from init()")


def run(data):
    print("hello from run()")
    return dict(os.environ)
