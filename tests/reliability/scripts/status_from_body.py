"""Undecorated run(): answers an AMLResponse whose status is the request body (``"set:N"`` sets it after creation)."""

from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


def run(raw_data):
    if raw_data.startswith("set:"):
        response = AMLResponse("made", 200)
        response.status_code = int(raw_data[4:])
        return response
    return AMLResponse("made", int(raw_data))
