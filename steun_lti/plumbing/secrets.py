"""Secrets and keys generated on first start, kept in the data directory with owner-only rights."""

from __future__ import annotations

import os
from pathlib import Path

from steun_lti.exceptions import ConfigurationError
from xapi.tokens import cli_safe_token


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (mode 0700) if needed and return it."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
    except OSError as exc:
        raise ConfigurationError(f"Cannot use data directory {data_dir}: {exc.strerror}") from exc
    return data_dir


def write_private_file(path: Path, content: bytes) -> None:
    """Write a file that only its owner can read, atomically, never world-readable in between."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_or_create_secret(data_dir: Path, name: str, nbytes: int = 32) -> str:
    """Return the secret stored as ``data_dir/secrets/name``, generating it on first use.

    Several processes may start at once (gunicorn workers): the first writer wins and
    the others read what it wrote.
    """
    folder = ensure_data_dir(data_dir) / "secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / name
    if not path.exists():
        value = cli_safe_token(nbytes)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic create-if-absent
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    text = path.read_text().strip()
    if not text:
        raise ConfigurationError(f"Secret file {path} is empty; delete it to generate a new one.")
    return text
