"""Snapshot selection matches azureml-core's own code on fixture trees; secrets and oversize snapshots are refused."""

from pathlib import Path

import pytest
from azureml._base_sdk_common.merkle_tree import create_merkletree
from azureml._project.ignore_file import get_project_ignore_file

from training.azure.errors import SnapshotRefused
from training.azure.snapshot import (
    MAX_SNAPSHOT_FILES,
    check_snapshot,
    compute_snapshot,
    find_secrets,
    format_snapshot,
)

# Built by concatenation so this test file itself never looks like it holds a secret.
PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow\n-----END " + "RSA PRIVATE KEY-----\n"
ACCOUNT_KEY = "DefaultEndpointsProtocol=https;AccountName=x;Account" + "Key=" + "A1b2" * 11 + "==;"


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _azureml_file_list(root: Path) -> list[str]:
    """The files azureml-core's snapshot code itself selects (the merkle tree it uploads), as relative paths."""
    exclude = get_project_ignore_file(str(root)).is_file_excluded
    found = []

    def walk(node, prefix):
        for child in node.children:
            if child.is_file():
                found.append(prefix + child.name)
            else:
                walk(child, prefix + child.name + "/")

    walk(create_merkletree(str(root), exclude), "")
    return found


@pytest.fixture
def project(tmp_path) -> Path:
    return _write(tmp_path / "job", {
        "train.py": "print('train')\n",
        "helper.py": "VALUE = 1\n",
        "data/iris.csv": "a,b\n1,2\n",
        "outputs/model.joblib": "binary",
        "debug.log": "log\n",
        ".gitignore": "outputs/\n*.log\n__pycache__/\n",
        "nested/.gitignore": "*.py\n",
        "nested/kept.py": "x = 1\n",
        "__pycache__/helper.cpython-311.pyc": "pyc",
        ".git/HEAD": "ref: refs/heads/main\n",
    })


def test_gitignore_selection_matches_azureml(project):
    snapshot = compute_snapshot(project)
    paths = [f.path for f in snapshot.files]
    assert snapshot.ignore_file == project / ".gitignore"
    assert paths == _azureml_file_list(project)
    # .git is uploaded unless ignored, and a nested .gitignore is not read: both as azureml-core does it.
    assert paths == [".git/HEAD", ".gitignore", "data/iris.csv", "helper.py", "nested/.gitignore", "nested/kept.py",
                     "train.py"]


def test_amlignore_takes_precedence_over_gitignore(project):
    (project / ".amlignore").write_text(".git\ndata/\n")
    paths = [f.path for f in compute_snapshot(project).files]
    assert paths == _azureml_file_list(project)
    assert "outputs/model.joblib" in paths and "debug.log" in paths
    assert not any(p.startswith(("data/", ".git/")) for p in paths)


def test_no_ignore_file_uploads_everything(project):
    (project / ".gitignore").unlink()
    snapshot = compute_snapshot(project)
    assert snapshot.ignore_file is None
    assert [f.path for f in snapshot.files] == _azureml_file_list(project)
    assert len(snapshot.files) == 9


def test_sizes_and_listing(project):
    snapshot = compute_snapshot(project)
    assert snapshot.total_size == sum((project / f.path).stat().st_size for f in snapshot.files)
    listing = format_snapshot(snapshot)
    assert "ignore file: .gitignore" in listing
    assert f"{len(snapshot.files)} files, {snapshot.total_size} B ({snapshot.total_size} bytes)" in listing
    assert "  train.py" in listing and "outputs/model.joblib" not in listing


def test_missing_source_directory_is_a_clear_error(tmp_path):
    with pytest.raises(SnapshotRefused, match="does not exist or is not a directory"):
        compute_snapshot(tmp_path / "nope")


def test_clean_project_passes_the_check(project):
    check_snapshot(compute_snapshot(project))


@pytest.mark.parametrize(("relative", "text", "reason"), [
    (".env", "TOKEN=abc\n", "environment file"),
    ("conf/.env.production", "X=1\n", "environment file"),
    ("keys/id_rsa", "whatever\n", "SSH private key"),
    ("certs/server.pem", "whatever\n", "private key or certificate store"),
    (".azure/msal_token_cache.json", "{}\n", "Azure CLI profile"),
    (".aws/credentials", "[default]\n", "AWS credentials file"),
    ("notes.txt", "line\n" + PRIVATE_KEY, "private key block"),
    ("settings.ini", "[storage]\nconn = " + ACCOUNT_KEY + "\n", "Azure storage account key"),
    ("deploy.sh", "export AWS_KEY=AKIA" + "ABCDEFGHIJKLMNOP\n", "AWS access key id"),
    ("config.yaml", "db:\n  password: 'hunter2hunter2'\n", "literal credential assignment"),
    ("run.sh", "export AZURE_CLIENT_SECRET=s3cr3t-value-123\n", "Azure client secret"),
])
def test_likely_secrets_are_refused_with_their_location(project, relative, text, reason):
    _write(project, {relative: text})
    snapshot = compute_snapshot(project)
    with pytest.raises(SnapshotRefused) as excinfo:
        check_snapshot(snapshot)
    message = str(excinfo.value)
    assert relative in message and reason in message
    assert "--allow-secrets" in message and ".gitignore" in message
    assert "hunter2" not in message and "s3cr3t" not in message, "the secret itself must never be printed"
    check_snapshot(snapshot, allow_secrets=True)


def test_content_findings_carry_the_line_number(project):
    _write(project, {"notes.txt": "one\ntwo\n" + PRIVATE_KEY})
    (finding,) = find_secrets(compute_snapshot(project))
    assert (finding.path, finding.line) == ("notes.txt", 3)


def test_placeholders_and_templates_are_not_secrets(project):
    _write(project, {
        ".env.example": "TOKEN=\n",
        "train_args.py": "password = os.environ['DB_PASSWORD']\napi_key = '${API_KEY}'\n",
        "id_rsa.pub": "ssh-ed25519 AAAA\n",
    })
    assert find_secrets(compute_snapshot(project)) == []


def test_ignored_secrets_do_not_block(project):
    _write(project, {".env": "TOKEN=abc\n", "keys/id_rsa": PRIVATE_KEY})
    (project / ".gitignore").write_text((project / ".gitignore").read_text() + ".env\nkeys/\n")
    check_snapshot(compute_snapshot(project))


def test_too_many_files_are_refused_unless_allowed(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for index in range(MAX_SNAPSHOT_FILES + 1):
        (root / f"f{index:04d}.txt").write_text("x")
    snapshot = compute_snapshot(root)
    with pytest.raises(SnapshotRefused, match=r"2001 files \(limit 2000\).*--allow-large-snapshot"):
        check_snapshot(snapshot)
    check_snapshot(snapshot, allow_large=True)


def test_too_large_is_refused_unless_allowed(tmp_path):
    root = tmp_path / "large"
    root.mkdir()
    with open(root / "data.bin", "wb") as handle:  # sparse: no disk space is used
        handle.truncate(301 * 1024 * 1024)
    snapshot = compute_snapshot(root)
    with pytest.raises(SnapshotRefused, match=r"301\.0 MiB \(limit 300\.0 MiB\)"):
        check_snapshot(snapshot)
    check_snapshot(snapshot, allow_large=True)

