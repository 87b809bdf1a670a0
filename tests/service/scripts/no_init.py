"""Defines run() but no init()."""


def run(data):
    return data
