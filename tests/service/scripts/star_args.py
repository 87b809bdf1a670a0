"""run(*args) is not allowed by the contract."""


def init():
    pass


def run(*args):
    return args
