"""Snapshot safety: exactly the files Azure ML uploads from a source directory, checked for secrets and size.

Azure ML SDK v1 uploads the whole ``source_directory`` of a run (azureml/_restclient/snapshots_client.py). Which files
it takes follows azureml/_project/ignore_file.py and azureml/_base_sdk_common/merkle_tree.py, mirrored here:

- ONE ignore file, at the top of the directory: ``.amlignore`` when it exists, else ``.gitignore``, else nothing is
  ignored (not even ``.git``). Nested ignore files are not read. Patterns are gitwildmatch (pathspec).
- Entries are visited in sorted order; an excluded directory is not descended into; unreadable files are skipped.
- Limits: 300 MB in total and 2000 files (azureml/_restclient/constants.py).

Secrets are looked for by file name (keys, certificates, ``.env``, credential stores) and, in text files, by content
(private key blocks, cloud access keys, connection strings, literal passwords). Only paths and line numbers are ever
reported, never the matched text.
"""

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from training.azure.errors import SnapshotRefused
from training.azure.sdk import require_sdk

MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024
MAX_SNAPSHOT_FILES = 2000
_SCAN_BYTES = 1024 * 1024
# The model directory format (docs/model-directory.md), imported by service/ and training/ alike.
SHARED_MODULES = ("model_format.py",)

_SECRET_NAMES = [
    (re.compile(r"\.env(\.(?!example$|sample$|template$|dist$)[^/]+)?$"), "environment file (.env)"),
    (re.compile(r"\.(pem|key|p12|pfx|jks|keystore|ppk|publishsettings)$"), "private key or certificate store"),
    (re.compile(r"(^|/)id_(rsa|dsa|ecdsa|ed25519)$"), "SSH private key"),
    (re.compile(r"(^|/)(\.netrc|_netrc|\.pgpass|\.pypirc|\.git-credentials|\.dockercfg)$"), "credential store"),
    (re.compile(r"(^|/)\.aws/credentials$"), "AWS credentials file"),
    (re.compile(r"(^|/)\.azure/"), "Azure CLI profile or token cache"),
    (re.compile(r"(^|/)\.docker/config\.json$"), "Docker registry credentials"),
]
_SECRET_CONTENT = [
    (re.compile(rb"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"), "private key block"),
    (re.compile(rb"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "AWS access key id"),
    (re.compile(rb"AccountKey=[A-Za-z0-9+/]{20,}"), "Azure storage account key"),
    (re.compile(rb"SharedAccessSignature=|[?&]sig=[A-Za-z0-9%+/]{20,}"), "Azure shared access signature"),
    (re.compile(rb"\bgh[pousr]_[A-Za-z0-9]{36}\b"), "GitHub token"),
    (re.compile(rb"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "Slack token"),
    (re.compile(rb"\bAIza[0-9A-Za-z_-]{35}\b"), "Google API key"),
    (re.compile(rb"\"private_key\"\s*:\s*\"-----BEGIN"), "service-account key file"),
    (re.compile(rb"(?i)\b[a-z_]*(password|passwd|client_secret|secret_key|api_key|apikey|access_token|auth_token)"
                rb"\s*[:=]\s*['\"][^'\"\s${}<>]{8,}['\"]"), "literal credential assignment"),
    (re.compile(rb"(?im)^\s*(export\s+)?AZURE_CLIENT_SECRET\s*=\s*['\"]?[^\s'\"$]{8,}"), "Azure client secret"),
]


@dataclass(frozen=True)
class SnapshotFile:
    """One file of the snapshot: POSIX path relative to the source directory, and size in bytes."""

    path: str
    size: int


@dataclass(frozen=True)
class SecretFinding:
    """A likely secret: the file, why it looks like one, and the 1-based line for content matches (None for names)."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Snapshot:
    """What Azure ML would upload from ``root``, with the ignore file used (None when there is none)."""

    root: Path
    ignore_file: Path | None
    files: tuple[SnapshotFile, ...]

    @property
    def total_size(self) -> int:
        """Sum of the file sizes in bytes."""
        return sum(f.size for f in self.files)


def _ignore_spec(root: Path):
    pathspec = require_sdk("pathspec")  # installed with azureml-core, which pins it (<1) for this same matching

    for name in (".amlignore", ".gitignore"):
        candidate = root / name
        if candidate.exists():
            with open(candidate) as handle:
                return candidate, pathspec.PathSpec.from_lines("gitwildmatch", handle)
    return None, None


def compute_snapshot(source_dir: Path) -> Snapshot:
    """List the files Azure ML would upload from ``source_dir``, in its order and with its ignore rules.

    Raises
    ------
    SnapshotRefused
        ``source_dir`` is not a directory.
    """
    root = Path(os.path.abspath(source_dir))
    if not root.is_dir():
        raise SnapshotRefused(f"Source directory {source_dir} does not exist or is not a directory.")
    ignore_file, spec = _ignore_spec(root)
    files: list[SnapshotFile] = []

    def visit(directory: Path, prefix: str) -> None:
        for name in sorted(os.listdir(directory)):
            relative = prefix + name
            if spec is not None and spec.match_file(relative):
                continue
            path = directory / name
            if path.is_file():
                if os.access(path, os.R_OK):
                    files.append(SnapshotFile(relative, path.stat().st_size))
            elif path.is_dir():
                visit(path, relative + "/")

    visit(root, "")
    return Snapshot(root=root, ignore_file=ignore_file, files=tuple(files))


def _content_findings(path: Path, relative: str) -> list[SecretFinding]:
    with open(path, "rb") as handle:
        head = handle.read(_SCAN_BYTES)
    if b"\0" in head[:8192]:
        return []
    findings = []
    for pattern, reason in _SECRET_CONTENT:
        match = pattern.search(head)
        if match:
            findings.append(SecretFinding(relative, reason, head.count(b"\n", 0, match.start()) + 1))
    return findings


def find_secrets(snapshot: Snapshot) -> list[SecretFinding]:
    """Likely secrets among the snapshot's files, by name and by content (first MB of each text file)."""
    findings: list[SecretFinding] = []
    for item in snapshot.files:
        lowered = item.path.lower()
        findings += [SecretFinding(item.path, reason) for pattern, reason in _SECRET_NAMES if pattern.search(lowered)]
        findings += _content_findings(snapshot.root / item.path, item.path)
    return findings


def check_snapshot(snapshot: Snapshot, *, allow_secrets: bool = False, allow_large: bool = False) -> None:
    """Refuse a snapshot that holds likely secrets or exceeds Azure ML's limits, unless explicitly allowed.

    Raises
    ------
    SnapshotRefused
        Listing every finding, or the count and size against the limits, and how to fix or override it.
    """
    ignore_name = snapshot.ignore_file.name if snapshot.ignore_file else ".amlignore"
    if not allow_secrets:
        findings = find_secrets(snapshot)
        if findings:
            listing = "\n".join(f"  {finding}" for finding in findings)
            raise SnapshotRefused(
                f"Refusing to upload {snapshot.root}: {len(findings)} likely secret(s) would be part of the Azure ML "
                f"snapshot:\n{listing}\nRemove them, exclude them in {snapshot.root / ignore_name}, "
                "or pass --allow-secrets if they are not secrets."
            )
    if allow_large:
        return
    problems = []
    if len(snapshot.files) > MAX_SNAPSHOT_FILES:
        problems.append(f"{len(snapshot.files)} files (limit {MAX_SNAPSHOT_FILES})")
    if snapshot.total_size > MAX_SNAPSHOT_BYTES:
        problems.append(f"{format_size(snapshot.total_size)} (limit {format_size(MAX_SNAPSHOT_BYTES)})")
    if problems:
        raise SnapshotRefused(
            f"Refusing to upload {snapshot.root}: the Azure ML snapshot would hold {' and '.join(problems)}. "
            f"Exclude data and generated files in {snapshot.root / ignore_name}, or pass --allow-large-snapshot "
            "(Azure ML enforces the same limits; AML_SNAPSHOT_NO_FILE_LIMIT=1 lifts only its file-count limit)."
        )


def format_size(size: int) -> str:
    """Human-readable size: bytes below 1 KiB, else KiB/MiB with one decimal."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def format_snapshot(snapshot: Snapshot) -> str:
    """The file list with sizes and the total, as printed by ``--dry-run``."""
    ignore = snapshot.ignore_file.name if snapshot.ignore_file else "none (every file is uploaded)"
    lines = [f"Snapshot of {snapshot.root} (ignore file: {ignore}):"]
    lines += [f"  {item.size:>10}  {item.path}" for item in snapshot.files]
    lines.append(f"  {len(snapshot.files)} files, {format_size(snapshot.total_size)} ({snapshot.total_size} bytes)")
    return "\n".join(lines)


def stage_entry_source(entry_root: Path, entry_script: str, staging: Path) -> Path:
    """Copy a scoring script's upload into ``staging``: its top-level folder (a package), or the script alone, plus
    the repository's shared top-level modules (:data:`SHARED_MODULES`) that such a package may import.

    The script (e.g. this repository's service/score.py) is referred to as a FILE, never imported; ``staging``
    becomes the deployment's source directory, so only the scoring package is uploaded. Returns ``staging``.

    Raises
    ------
    SnapshotRefused
        ``entry_script`` is absolute or is not a file under ``entry_root``.
    """
    relative = Path(entry_script)
    if relative.is_absolute() or not (Path(entry_root) / relative).is_file():
        raise SnapshotRefused(f"Entry script {entry_script!r} not found under {entry_root}; give its path relative "
                              "to the repository, e.g. service/score.py.")
    top = relative.parts[0]
    staging.mkdir(parents=True, exist_ok=True)
    if len(relative.parts) > 1:
        shutil.copytree(Path(entry_root) / top, staging / top,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
    else:
        shutil.copy2(Path(entry_root) / relative, staging / top)
    for name in SHARED_MODULES:
        if (Path(entry_root) / name).is_file():
            shutil.copy2(Path(entry_root) / name, staging / name)
    return staging
