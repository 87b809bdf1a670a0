"""The entry-script contract: input styles chosen once at load time, and scripts that break the contract refused."""

from __future__ import annotations

import sys

import pytest
from service_helpers import SCRIPTS

from service.entry_script import InputStyle, load_entry_script
from service.errors import EntryScriptError


@pytest.mark.parametrize(
    ("script", "style", "headers"),
    [
        ("iris_score.py", InputStyle.SCHEMA, False),
        ("rawhttp_echo.py", InputStyle.RAW, False),
        ("query_echo.py", InputStyle.STRING, False),
        ("request_headers.py", InputStyle.STRING, True),
    ],
)
def test_input_style_is_chosen_at_load_time(script, style, headers):
    loaded = load_entry_script(SCRIPTS / script)
    assert loaded.style is style
    assert loaded.wants_request_headers is headers
    assert loaded.data_parameter in ("data", "request", "raw_data")


def test_schema_types_are_found_for_decorated_arguments():
    loaded = load_entry_script(SCRIPTS / "iris_score.py")
    assert list(loaded.schema_types) == ["data"]
    assert type(loaded.schema_types["data"]).__name__ == "NumpyParameterType"


def test_azure_import_names_resolve_to_our_api_once_a_script_loads():
    load_entry_script(SCRIPTS / "rawhttp_echo.py")
    from azureml.contrib.services.aml_response import AMLResponse

    import service.compat

    assert AMLResponse is service.compat.AMLResponse
    assert sys.modules["azureml_inference_server_http.api.aml_request"] is service.compat


def test_the_same_script_loads_twice():
    first = load_entry_script(SCRIPTS / "iris_score.py")
    second = load_entry_script(SCRIPTS / "iris_score.py")
    assert first.run is not second.run and second.style is InputStyle.SCHEMA


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("no_init.py", "does not define init()"),
        ("star_args.py", "cannot accept positional-only arguments, *args, or **kwargs"),
        ("headers_only.py", 'needs to accept an argument other than "request_headers"'),
        ("raw_and_schema.py", "cannot be decorated with both @rawhttp and @input_schema"),
        ("import_error.py", "Importing entry script"),
        ("does_not_exist.py", "does not exist or is not a file"),
    ],
)
def test_contract_violations_are_refused(script, message):
    with pytest.raises(EntryScriptError) as excinfo:
        load_entry_script(SCRIPTS / script)
    assert message in str(excinfo.value)
    assert str(SCRIPTS / script) in str(excinfo.value)


def test_import_error_names_the_missing_module():
    with pytest.raises(EntryScriptError, match="ModuleNotFoundError: No module named 'module_that_does_not_exist'"):
        load_entry_script(SCRIPTS / "import_error.py")
