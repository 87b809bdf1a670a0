"""Undecorated run() that reads Flask's request proxy, as a script written for the reference may."""

from flask import request


def init():
    pass


def run(data):
    return {"path": request.path, "data": data}
