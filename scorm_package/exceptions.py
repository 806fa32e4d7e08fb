"""Errors of the course package builder: one base class, each naming what and where."""

from __future__ import annotations

from pathlib import Path


class ScormPackageError(Exception):
    """Base class for every error the course builder raises on purpose."""


class BuildError(ScormPackageError):
    """The course source (or the build itself) is wrong; the message names the file and line."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    @property
    def location(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ManifestInvalid(BuildError):
    """The generated imsmanifest.xml does not validate against the official schemas."""
