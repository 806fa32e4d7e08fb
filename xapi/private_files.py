"""Exports hold research data: files only their owner can read (0600), in such a folder (0700).

A folder the export creates is made 0700; an existing folder is left as it is (it may be shared on
purpose), but every file in it is 0600 from the moment it exists: the file is created empty with
that mode before a writer fills it, and the mode is set again afterwards (for writers that replace
the file). An existing symlink in the file's place is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: Path) -> Path:
    """Make ``folder`` (and missing parents) if missing; what this call creates is 0700."""
    if not folder.is_dir():
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)
    return folder


def private_file(path: Path) -> Path:
    """Create (or empty) ``path`` as a 0600 file, ready to be written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def seal_mode(path: Path) -> Path:
    """Set 0600 again after a writer that may have replaced the file."""
    os.chmod(path, FILE_MODE)
    return path
