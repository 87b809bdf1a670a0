"""Every setting of the service, read once from CLI flags, the environment and config.json, and nowhere else.

A frozen dataclass rather than pydantic-settings: no extra dependency or import cost in each worker, and every
parse error names the setting, what it expects and what it got. Precedence: CLI flag > environment > config.json >
default, as in azureml-inference-server-http (whose env names are kept; new settings get new, explicit names).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import model_format
from service import __version__
from service.errors import cap

NO_CODE_ENTRY_SCRIPT = Path(__file__).resolve().parent / "score.py"

# Names a config.json may set (the reference honours only its aliased worker-level names; we add our own settings).
CONFIG_FILE_KEYS = frozenset(
    {
        "AZUREML_SOURCE_DIRECTORY",
        "AZUREML_ENTRY_SCRIPT",
        "AZUREML_MODEL_DIR",
        "SERVICE_NAME",
        "SERVICE_VERSION",
        "SERVICE_PATH_PREFIX",
        "SCORING_TIMEOUT_MS",
        "AZUREML_LOG_LEVEL",
        "AML_CORS_ORIGINS",
        "WORKSPACE_NAME",
        "MAX_REQUEST_BODY_BYTES",
        "MAX_BUFFERED_BYTES",
        "LOG_FORMAT",
    }
)


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the setting, what is expected and what came."""


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one service instance; build it with :meth:`Settings.load`."""

    app_root: Path
    """AML_APP_ROOT: appended to sys.path; where config.json and swagger*.json overrides are looked up."""
    entry_script: Path
    """AZUREML_ENTRY_SCRIPT (or --entry_script): the user's score script; the no-code script when unset."""
    model_dir: Path | None = None
    """AZUREML_MODEL_DIR (or --model_dir): exported to the entry script; its model.json sha256 is checked at start."""
    source_dir: Path | None = None
    """AZUREML_SOURCE_DIRECTORY: app_root/source_dir is appended to sys.path."""
    config_file: Path | None = None
    """AZUREML_CONFIG_FILE (or --config_file), else a non-empty config.json in app_root or the script's directory."""
    host: str = "127.0.0.1"
    """SERVER_HOST (or --host): bind address. The reference hard-codes 0.0.0.0; the container sets it explicitly."""
    port: int = 5001
    """--port, else SERVER_PORT (the reference ignores the env value; we honour it)."""
    health_port: int | None = None
    """--health_port (default 5000) when SEPERATE_HEALTH_ENDPOINT=true: a second listener serving the same routes."""
    worker_count: int = 1
    """WORKER_COUNT (or --worker_count): gunicorn worker processes."""
    worker_threads: int = 4
    """WORKER_THREADS: requests a worker may have busy at once beyond its event loop (service/worker.py)."""
    max_concurrent_runs: int = 1
    """MAX_CONCURRENT_RUNS: run() calls one worker makes at the same time; 1 (the reference's one-at-a-time, safe for
    scripts that are not thread-safe) unless raised. Health, metrics and input parsing never wait for it."""
    worker_timeout_s: int = 300
    """WORKER_TIMEOUT: gunicorn restarts a worker whose main loop is silent this long (last resort)."""
    request_read_timeout_s: int = 60
    """REQUEST_READ_TIMEOUT_S: a request's head and body must arrive within this long of its first byte, else 408
    (so slow clients cannot hold every worker thread)."""
    worker_preload: bool = False
    """WORKER_PRELOAD: load the script and run init() once in the master before forking (workers share the model)."""
    scoring_timeout_ms: int = 3_600_000
    """SCORING_TIMEOUT_MS: a run() still busy after this long gets a 504 (works with threads, unlike the reference)."""
    max_body_bytes: int = 100 * 1024 * 1024
    """MAX_REQUEST_BODY_BYTES: larger request bodies get a 413."""
    max_buffered_bytes: int = 200 * 1024 * 1024
    """MAX_BUFFERED_BYTES (default twice MAX_REQUEST_BODY_BYTES): request bytes one worker holds for requests still
    arriving; past it, the request that is arriving gets a 503 (so many slow uploads cannot exhaust memory)."""
    cors_origins: tuple[str, ...] = ()
    """AML_CORS_ORIGINS (or --access_control_allow_origins): comma-separated allowed origins."""
    service_name: str = "ML service"
    """SERVICE_NAME: swagger info.title."""
    service_version: str = "1.0"
    """SERVICE_VERSION: swagger info.version."""
    service_path_prefix: str = ""
    """SERVICE_PATH_PREFIX: prefix of the swagger paths only (routes do not move, as in the reference)."""
    server_version_header: str | None = f"sklearn-scoring/{__version__}"
    """HTTP_X_MS_SERVER_VERSION: x-ms-server-version value; None when SERVER_VERSION_LOG_RESPONSE_ENABLED=false."""
    api_key: str | None = field(default=None, repr=False)
    """SCORING_API_KEY, or the first line of the file SCORING_API_KEY_FILE: when set, /score, /swagger.json and
    /model need `Authorization: Bearer <key>`."""
    log_level: str = "INFO"
    """AZUREML_LOG_LEVEL: DEBUG, INFO, WARNING, ERROR or CRITICAL (the reference parses it but never applies it)."""
    log_format: str = "text"
    """LOG_FORMAT: "text" (the reference's line format) or "json" (one JSON object per line)."""
    model_trusted_types: tuple[str, ...] = ()
    """MODEL_TRUSTED_TYPES: comma-separated fully qualified type names a skops model may hold beyond those its
    model.json records as trusted (a pickle model is not affected). Empty: trust exactly what model.json records."""
    metrics_dir: Path | None = None
    """PROMETHEUS_MULTIPROC_DIR: shared by the workers so /metrics counts across them (the launcher creates one)."""
    warnings: tuple[str, ...] = ()
    """Problems worth a log line that do not stop the service (e.g. unknown config.json keys)."""

    @classmethod
    def load(cls, cli: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from CLI values (None = not given), the environment and the config file.

        Raises
        ------
        SettingsError
            When a value cannot be parsed or is out of range, or the config file is not a JSON object.
        """
        cli = {k: v for k, v in (cli or {}).items() if v is not None}
        env = dict(os.environ if environ is None else environ)
        app_root = Path(env.get("AML_APP_ROOT") or os.getcwd())
        # As in the reference: the flag is relative to the current directory, the env value to AML_APP_ROOT.
        script = Path(str(cli["entry_script"])).resolve() if "entry_script" in cli else None
        script_value = script or (app_root / env["AZUREML_ENTRY_SCRIPT"] if env.get("AZUREML_ENTRY_SCRIPT") else None)
        config_file = _find_config_file(
            cli.get("config_file") or env.get("AZUREML_CONFIG_FILE"), app_root, script_value
        )
        file_values, warnings = _read_config_file(config_file) if config_file else ({}, [])

        def get(name: str) -> str | None:
            return env[name] if name in env else file_values.get(name)

        def flag_or_env(flag: str, name: str) -> object:
            return cli[flag] if flag in cli else env.get(name)

        entry_script = script or (app_root / get("AZUREML_ENTRY_SCRIPT") if get("AZUREML_ENTRY_SCRIPT") else None)
        model_dir = cli.get("model_dir") or get("AZUREML_MODEL_DIR")
        source_dir = get("AZUREML_SOURCE_DIRECTORY")
        cors = cli.get("access_control_allow_origins") or get("AML_CORS_ORIGINS")
        version_enabled = env.get("SERVER_VERSION_LOG_RESPONSE_ENABLED", "true").lower() == "true"
        max_body = _int("MAX_REQUEST_BODY_BYTES", get("MAX_REQUEST_BODY_BYTES"), 100 * 1024 * 1024)
        max_buffered = _int("MAX_BUFFERED_BYTES", get("MAX_BUFFERED_BYTES"), 2 * max_body)
        if max_buffered < max_body:
            raise SettingsError(
                f"MAX_BUFFERED_BYTES must be at least MAX_REQUEST_BODY_BYTES ({max_body}), got {max_buffered}: a "
                "body of the largest size allowed could never arrive."
            )
        metrics_dir = env.get("PROMETHEUS_MULTIPROC_DIR")
        return cls(
            app_root=app_root,
            entry_script=Path(entry_script).resolve() if entry_script else NO_CODE_ENTRY_SCRIPT,
            model_dir=Path(model_dir) if model_dir else None,
            source_dir=app_root / source_dir if source_dir else None,
            config_file=config_file,
            host=str(cli.get("host") or env.get("SERVER_HOST") or "127.0.0.1"),
            port=_int("--port / SERVER_PORT", flag_or_env("port", "SERVER_PORT"), 5001, 1, 65535),
            health_port=_int("--health_port / HEALTH_PORT", flag_or_env("health_port", "HEALTH_PORT"), 5000, 1, 65535)
            if env.get("SEPERATE_HEALTH_ENDPOINT", "").lower() == "true"
            else None,
            worker_count=_int("--worker_count / WORKER_COUNT", flag_or_env("worker_count", "WORKER_COUNT"), 1),
            worker_threads=_int("WORKER_THREADS", env.get("WORKER_THREADS"), 4),
            max_concurrent_runs=_int("MAX_CONCURRENT_RUNS", env.get("MAX_CONCURRENT_RUNS"), 1),
            worker_timeout_s=_int("WORKER_TIMEOUT", env.get("WORKER_TIMEOUT"), 300),
            request_read_timeout_s=_int("REQUEST_READ_TIMEOUT_S", env.get("REQUEST_READ_TIMEOUT_S"), 60),
            worker_preload=_bool("WORKER_PRELOAD", env.get("WORKER_PRELOAD"), False),
            scoring_timeout_ms=_int("SCORING_TIMEOUT_MS", get("SCORING_TIMEOUT_MS"), 3_600_000),
            max_body_bytes=max_body,
            max_buffered_bytes=max_buffered,
            cors_origins=tuple(o.strip() for o in str(cors).split(",") if o.strip()) if cors else (),
            service_name=str(get("SERVICE_NAME") or "ML service"),
            service_version=str(get("SERVICE_VERSION") or "1.0"),
            service_path_prefix=str(get("SERVICE_PATH_PREFIX") or ""),
            server_version_header=(env.get("HTTP_X_MS_SERVER_VERSION") or cls.server_version_header)
            if version_enabled
            else None,
            api_key=_api_key(env),
            log_level=_choice("AZUREML_LOG_LEVEL", get("AZUREML_LOG_LEVEL"), "INFO", _LOG_LEVELS, upper=True),
            log_format=_choice("LOG_FORMAT", get("LOG_FORMAT"), "text", ("text", "json")),
            model_trusted_types=parse_trusted_types(env.get("MODEL_TRUSTED_TYPES")),
            metrics_dir=Path(metrics_dir) if metrics_dir else None,
            warnings=tuple(warnings),
        )

    @property
    def is_no_code(self) -> bool:
        """True when no entry script was configured and the built-in no-code script serves the model directory."""
        return self.entry_script == NO_CODE_ENTRY_SCRIPT


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def environment_trusted_types() -> tuple[str, ...]:
    """MODEL_TRUSTED_TYPES of this process's environment: what the no-code script and the default batch driver, which
    get no Settings (Azure's entry-script contract), trust in a skops model. Raises SettingsError as below."""
    return parse_trusted_types(os.environ.get("MODEL_TRUSTED_TYPES"))


def parse_trusted_types(value: str | None) -> tuple[str, ...]:
    """MODEL_TRUSTED_TYPES as a tuple of type names; also read by the no-code entry script, which gets no Settings.

    Raises
    ------
    SettingsError
        An entry is not a fully qualified name such as ``sklearn.tree._tree.Tree``.
    """
    names = tuple(name.strip() for name in (value or "").split(",") if name.strip())
    bad = [name for name in names if not model_format.is_type_name(name)]
    if bad:
        raise SettingsError(
            f"MODEL_TRUSTED_TYPES must be a comma-separated list of fully qualified type names such as "
            f"sklearn.tree._tree.Tree, got {_quote(bad[0])}."
        )
    return names


def _quote(value: object) -> str:
    return cap(repr(value))


def _int(name: str, value: object, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {_quote(value)}.") from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingsError(f"{name} must be {bound}, got {number}.")
    return number


def _bool(name: str, value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise SettingsError(f"{name} must be true or false, got {_quote(value)}.")


def _choice(name: str, value: object, default: str, choices: tuple[str, ...], upper: bool = False) -> str:
    if value is None or value == "":
        return default
    text = str(value).strip()
    text = text.upper() if upper else text.lower()
    if text not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {_quote(value)}.")
    return text


def _api_key(env: Mapping[str, str]) -> str | None:
    key = env.get("SCORING_API_KEY")
    key_file = env.get("SCORING_API_KEY_FILE")
    if key_file and not key:
        try:
            key = Path(key_file).read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            raise SettingsError(f"SCORING_API_KEY_FILE must name a readable file holding the key: {exc}") from None
    if key is not None and not key.strip():
        raise SettingsError("SCORING_API_KEY must not be empty; unset it to turn authentication off.")
    return key.strip() if key else None


def _find_config_file(explicit: object, app_root: Path, entry_script: object) -> Path | None:
    if explicit:
        path = Path(str(explicit)).resolve()
        if not path.is_file():
            raise SettingsError(f"--config_file / AZUREML_CONFIG_FILE must name a file, got {_quote(str(explicit))}.")
        return path
    roots = [app_root]
    if entry_script:
        roots.append(Path(str(entry_script)).resolve().parent)
    for root in roots:
        candidate = root / "config.json"
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    return None


def _read_config_file(path: Path) -> tuple[dict[str, str], list[str]]:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"Config file {path} must hold a JSON object: {exc}") from None
    if not isinstance(values, dict):
        raise SettingsError(f"Config file {path} must hold a JSON object, got {type(values).__name__}.")
    unknown = sorted(k for k in values if k not in CONFIG_FILE_KEYS)
    warnings = [f"Config file {path}: ignoring unknown keys {unknown}"] if unknown else []
    known = {
        k: str(v) if not isinstance(v, bool) else str(v).lower() for k, v in values.items() if k in CONFIG_FILE_KEYS
    }
    return known, warnings
