"""A tabular batch driver whose run() returns one entry fewer than its mini-batch has rows (Azure fails it)."""


def init():
    pass


def run(mini_batch):
    return list(range(len(mini_batch) - 1))
