"""@rawhttp run(): describes the request it received and answers 207 with a comma-split header."""

import json

from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request):
    info = {
        "is_aml_request": isinstance(request, AMLRequest),
        "method": request.method,
        "args": request.args.to_dict(flat=False),
        "body": request.get_data(as_text=True),
        "content_type": request.content_type,
    }
    return AMLResponse(json.dumps(info), 207, {"Content-Type": "application/json", "X-A": "1, 2"})
