"""run() raises with a distinctive detail that must never reach a client, whatever debug settings are exported."""


def init():
    pass


def run(data):
    raise ValueError("run-raises-secret-detail")
