"""init() raises a distinctive error: the service must refuse to start and name this cause in its log."""


def init():
    raise RuntimeError("init-raises-detail: the model store is unreachable")


def run(data):
    return "unreachable"
