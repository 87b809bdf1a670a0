"""The Azure ML entry-script contract: load init()/run(), inspect run() once, pick its input style, call them.

Only this module imports user code or knows the names init, run, request_headers and @rawhttp.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import logging
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import ModuleType

from service import compat
from service.errors import EntryScriptError

logger = logging.getLogger("azmlinfsrv.user_script")


class InputStyle(Enum):
    """How run() receives the request, decided once at load time."""

    RAW = "raw"
    """@rawhttp: the first parameter gets the AMLRequest, for every HTTP method."""
    SCHEMA = "schema"
    """@input_schema: every parameter is taken by name from the JSON object (or the query string)."""
    STRING = "string"
    """Undecorated: the first parameter gets the raw body as str (the query as a JSON string for GET)."""


@dataclass(frozen=True)
class EntryScript:
    """A loaded entry script.

    ``parameters`` are run()'s parameters other than ``request_headers``; ``schema_types`` maps each
    inference-schema decorated parameter that the server may convert before the call to its parameter type.
    """

    path: Path
    init: Callable[[], object]
    run: Callable[..., object]
    style: InputStyle
    parameters: tuple[inspect.Parameter, ...]
    schema_types: Mapping[str, object]
    wants_request_headers: bool
    reads_flask_request: bool = False
    """The script imports ``flask`` or ``flask.request``: its run() may read the request it is called for."""

    @property
    def data_parameter(self) -> str:
        """The first parameter of run() other than request_headers."""
        return self.parameters[0].name

    def call_run(self, arguments: Mapping[str, object], request_headers: Mapping[str, str]) -> object:
        """Call the user's run() with ``arguments`` (and ``request_headers`` when it asks for them)."""
        if self.wants_request_headers:
            return self.run(**arguments, request_headers=dict(request_headers))
        return self.run(**arguments)


def load_entry_script(path: Path) -> EntryScript:
    """Import the script at ``path`` (with the azureml.contrib.services aliases installed) and inspect run().

    Raises
    ------
    EntryScriptError
        When the file cannot be imported, lacks init() or run(), or run() has a signature the contract forbids.
    """
    compat.install()
    module = _import(path)
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise EntryScriptError(f"Entry script {path} does not define {name}().")
    run = module.run
    # Azure SDK driver modules forward run() without passing decorated arguments correctly; call the real one.
    driver = getattr(module, "driver_module", None)
    if isinstance(driver, ModuleType) and callable(getattr(driver, "run", None)):
        logger.info("Found driver script at %s and the score script at %s", path, driver.__file__)
        run = driver.run
    else:
        logger.info("Found user script at %s", path)
        driver = None
    script = _analyse(path, module.init, run)
    return dataclasses.replace(script, reads_flask_request=_reads_flask_request(module, driver))


def _import(path: Path) -> ModuleType:
    if not path.is_file():
        raise EntryScriptError(f"Entry script {path} does not exist or is not a file.")
    # A unique module name per load: inference-schema keys its schema registry by "<module>.<function>".
    name = f"entry_module_{uuid.uuid4().hex[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise EntryScriptError(f"Entry script {path} cannot be imported: not a Python source file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        raise EntryScriptError(f"Importing entry script {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _reads_flask_request(*modules: ModuleType | None) -> bool:
    """Whether any of ``modules`` holds Flask's request proxy or the flask module (``from flask import request``,
    ``import flask``)."""
    import flask

    return any(
        value is flask.request or value is flask
        for module in modules
        if module is not None
        for value in vars(module).values()
    )


def _analyse(path: Path, init: Callable, run: Callable) -> EntryScript:
    from inference_schema.schema_util import is_schema_decorated

    all_parameters = list(inspect.signature(run).parameters.values())
    allowed = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if any(p.kind not in allowed for p in all_parameters):
        raise EntryScriptError(f"run() in {path} cannot accept positional-only arguments, *args, or **kwargs.")
    wants_headers = any(p.name == "request_headers" for p in all_parameters)
    parameters = tuple(p for p in all_parameters if p.name != "request_headers")
    if not parameters:
        other = ' other than "request_headers"' if wants_headers else " for input data"
        raise EntryScriptError(f"run() in {path} needs to accept an argument{other}.")
    decorated = is_schema_decorated(run)
    if compat.is_rawhttp(run) and decorated:
        raise EntryScriptError(f"run() in {path} cannot be decorated with both @rawhttp and @input_schema.")
    if compat.is_rawhttp(run):
        style = InputStyle.RAW
        logger.info("run() is decorated with @rawhttp. Server will invoke it with the request object.")
    elif decorated:
        style = InputStyle.SCHEMA
        names = ", ".join(p.name for p in parameters)
        logger.info(
            "run() is decorated with @input_schema. Server will invoke it with the following arguments: %s.", names
        )
    else:
        style = InputStyle.STRING
        logger.info("run() is not decorated. Server will invoke it with the input in JSON string.")
    return EntryScript(
        path=path,
        init=init,
        run=run,
        style=style,
        parameters=parameters,
        schema_types=_convertible_schema_types(run) if decorated else {},
        wants_request_headers=wants_headers,
    )


def _convertible_schema_types(run: Callable) -> dict[str, object]:
    """Find each @input_schema parameter type by walking the decorator chain (inference-schema keeps no public map).

    Optional parameters are left to inference-schema: its wrapper tests them with ``not value``, which an ndarray
    cannot answer.
    """
    import wrapt

    found: dict[str, object] = {}
    current = run
    while isinstance(current, wrapt.FunctionWrapper):
        closure = inspect.getclosurevars(current._self_wrapper).nonlocals
        if "param_name" in closure and closure.get("convert_to_provided_type") and not closure.get("optional"):
            found.setdefault(closure["param_name"], closure["param_type"])
        current = current.__wrapped__
    return found
