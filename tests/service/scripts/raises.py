"""run() raises with a detail that must reach the log but never the client."""


def init():
    pass


def run(data):
    raise ValueError("secret-detail-xyz")
