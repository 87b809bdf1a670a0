"""Undecorated run() that also asks for request_headers and echoes them with the body."""


def init():
    pass


def run(data, request_headers):
    return {"data": data, "custom": request_headers.get("X-Custom"), "type": type(request_headers).__name__}
