"""Undecorated run() that returns the string it was given, to check GET query and POST body passing."""


def init():
    pass


def run(data):
    return {"received": data}
