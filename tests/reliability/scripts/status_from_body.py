"""Undecorated run(): answers an AMLResponse whose status is the request body (``"set:N"`` sets it after creation,
``"flask:N"`` answers a plain flask.Response)."""

from azureml.contrib.services.aml_response import AMLResponse
from flask import Response


def init():
    pass


def run(raw_data):
    if raw_data.startswith("set:"):
        response = AMLResponse("made", 200)
        response.status_code = int(raw_data[4:])
        return response
    if raw_data.startswith("flask:"):
        return Response("made", status=int(raw_data[6:]))
    return AMLResponse("made", int(raw_data))
