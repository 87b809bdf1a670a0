"""init() raises: the service must never become ready and must exit with status 3."""


def init():
    raise RuntimeError("init-failure-detail")


def run(data):
    return "unreachable"
