"""A tabular batch driver whose worker process dies inside run() (as on an out-of-memory kill)."""

import os


def init():
    pass


def run(mini_batch):
    os._exit(3)
