"""A tabular batch driver that fails on rows whose first value is 9.9 unless $FIXED is set, and logs each call's
first value to $CALL_LOG (so a test sees which mini-batches a resumed run ran again)."""

import os


def init():
    pass


def run(mini_batch):
    first = float(mini_batch.iloc[0, 0])
    with open(os.environ["CALL_LOG"], "a") as log:
        log.write(f"{first}\n")
    if not os.environ.get("FIXED") and (mini_batch.iloc[:, 0] == 9.9).any():
        raise RuntimeError("refusing 9.9")
    return [f"{value:.1f}" for value in mini_batch.iloc[:, 0]]
