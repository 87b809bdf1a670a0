"""Undecorated run() that prints to stdout and to stderr."""

import sys


def init():
    print("hello from init()")


def run(data):
    print("hello from run()", data)
    print("to stderr", file=sys.stderr)
    return "printed"
