"""Azure ML side of the training CLI (submit, sweep --target azure, deploy), on the optional SDK v1 extra.

Nothing here is imported when ``python -m training`` starts: training/commands_azure.py imports these modules inside
the commands, and only the modules that build Azure objects import ``azureml`` (through ``sdk.require_sdk``).
"""
