"""run() takes only request_headers: there is no parameter for the input."""


def init():
    pass


def run(request_headers):
    return {}
