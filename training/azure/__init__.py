"""Azure ML side of the training CLI (submit, sweep --azure, register --azure, deploy) on the optional SDK extra.

Two backends behind one interface (backend.py): SDK v1 (azureml-core, v1.py) and SDK v2 (azure-ai-ml, v2.py). Neither
SDK is imported when ``python -m training`` starts: only the modules that build Azure objects import them, inside
functions and through ``sdk.require_sdk``.
"""
