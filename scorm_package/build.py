"""Build a course folder into a SCORM zip: render, write the manifest, validate it, zip reproducibly."""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from scorm_package.exceptions import BuildError
from scorm_package.loader import load_course
from scorm_package.manifest import STANDARDS, build_manifest, schema_files, validate_manifest
from scorm_package.model import Course
from scorm_package.render import render_course
from xapi.course_relay import RELAY_FILE, parse_relay_key, relay_script

RUNTIME_DIR = Path(__file__).parent / "runtime"
DEFAULT_COURSE = Path(__file__).parent / "course"
# Fixed metadata for every zip entry so the same source gives a byte-identical zip.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_MODE = 0o100644 << 16
COMPRESSION_LEVEL = 9


@dataclass
class BuildResult:
    standard: str
    path: Path
    files: dict[str, bytes]
    seconds: float

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def package_files(
    course: Course,
    standard: str,
    relay_url: str | None = None,
    relay_key: tuple[str, str] | None = None,
) -> dict[str, bytes]:
    """Every file of the package (name -> bytes), manifest included and validated.

    ``steun-relay.js`` says where course events go: nowhere (the default, and what the tool
    expects in the package it hands out with a platform's key), or ``relay_url`` with the package
    key ``relay_key`` = (kid, key) as ``steun platform course-key`` prints it."""
    html, assets = render_course(course, standard)
    kid, key = relay_key if relay_key else (None, None)
    files: dict[str, bytes] = {
        "index.html": html.encode("utf-8"),
        RELAY_FILE: relay_script(relay_url, kid, key).encode(),
    }
    for src in sorted(RUNTIME_DIR.iterdir()):
        if src.is_file() and src.suffix in (".js", ".css"):
            files[f"runtime/{src.name}"] = src.read_bytes()
    for name, src in assets.items():
        files[name] = src.read_bytes()
    for xsd in schema_files(standard):
        files[xsd.name] = xsd.read_bytes()
    manifest = build_manifest(course, standard, files)
    validate_manifest(manifest, standard)
    files["imsmanifest.xml"] = manifest
    return files


def write_zip(files: dict[str, bytes], path: Path) -> None:
    """Sorted entries, fixed timestamps and permissions, fixed compression: reproducible bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = ZIP_MODE
            zf.writestr(info, files[name], compresslevel=COMPRESSION_LEVEL)
    tmp.replace(path)


def zip_name(course: Course, standard: str) -> str:
    return f"{course.id}-{course.version}-{standard}.zip"


def build(
    course_dir: Path = DEFAULT_COURSE,
    out: Path = Path("dist"),
    standards: tuple[str, ...] = STANDARDS,
    relay_url: str | None = None,
    relay_key: str | None = None,
) -> tuple[Course, list[BuildResult]]:
    """Build the course once per standard into ``out``; BuildError on any problem in the source."""
    for standard in standards:
        if standard not in STANDARDS:
            raise BuildError(f"unknown standard '{standard}' (use {' or '.join(STANDARDS)})")
    if relay_url is not None and not relay_url.startswith(("http://", "https://")):
        raise BuildError(f"--relay-url must be an http(s) URL, got {relay_url!r}")
    if (relay_key is None) != (relay_url is None):
        raise BuildError(
            "--relay-url and --relay-key go together (the tool refuses course events without "
            "a package key; `steun platform course-key ISSUER` prints one)"
        )
    key_parts = None
    if relay_key is not None:
        try:
            key_parts = parse_relay_key(relay_key)
        except ValueError as exc:
            raise BuildError(f"--relay-key: {exc}") from None
    course = load_course(course_dir)
    results = []
    for standard in standards:
        start = time.perf_counter()
        files = package_files(course, standard, relay_url, key_parts)
        path = out / zip_name(course, standard)
        try:
            write_zip(files, path)
        except OSError as exc:
            raise BuildError(f"cannot write the package: {exc.strerror}", path) from None
        results.append(BuildResult(standard, path, files, time.perf_counter() - start))
    return course, results
