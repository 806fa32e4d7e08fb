"""Benchmark the course package: build time per standard, zip sizes, and the largest suspend_data
after a full run through the course in headless Chromium (scorm-again as the LMS).

    python benchmarks/scorm_build.py [--course DIR] [--repeat N] [--no-browser]

Needs `npm ci` (scorm-again) for the browser part.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scorm_package.build import DEFAULT_COURSE, build  # noqa: E402
from scorm_package.loader import load_course  # noqa: E402
from scorm_package.manifest import STANDARDS  # noqa: E402
from scorm_package.render import study_minutes  # noqa: E402


def time_builds(course: Path, out: Path, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {s: [] for s in STANDARDS}
    for _ in range(repeat):
        for standard in STANDARDS:
            start = time.perf_counter()
            build(course, out, (standard,))
            times[standard].append(time.perf_counter() - start)
    return times


def full_run_suspend_data(course: Path, out: Path) -> dict[str, tuple[int, int, str]]:
    """For each standard: (largest suspend_data, its limit, final status) after clicking through."""
    from playwright.sync_api import sync_playwright
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    from tests.scorm_package.browser_lms import SUSPEND_LIMIT, click_through, launch
    from tests.scorm_package.conftest import HOST_PAGE, NODE_MODULES, _not_found
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, serve_wsgi

    if not (NODE_MODULES / "scorm-again/dist/scorm12.js").is_file():
        raise SystemExit(f"Error: scorm-again missing in {NODE_MODULES}: run `npm ci` first")
    assert HOST_PAGE.is_file()
    _, results = build(course, out / "browser")
    exports = {"/vendor/scorm-again": str(NODE_MODULES / "scorm-again" / "dist")}
    for result in results:
        folder = out / "browser" / result.standard
        with zipfile.ZipFile(result.path) as zf:
            zf.extractall(folder)
        exports[f"/{result.standard}"] = str(folder)
    server = serve_wsgi(SharedDataMiddleware(_not_found, exports, cache=False))
    found: dict[str, tuple[int, int, str]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            for standard in STANDARDS:
                page = browser.new_page()
                session = launch(page, server.url, standard, "iframe", None)
                click_through(session.sco)
                session.close()
                lengths = [
                    len(e["args"][1])
                    for e in session.log()
                    if e["fn"].endswith("SetValue") and e["args"][0] == "cmi.suspend_data"
                ]
                values = session.values()
                status = values.get("cmi.core.lesson_status") or "/".join(
                    (values.get("cmi.completion_status", ""), values.get("cmi.success_status", ""))
                )
                found[standard] = (max(lengths), SUSPEND_LIMIT[standard], status)
                page.close()
            browser.close()
    finally:
        server.stop()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium run")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    course = load_course(args.course)
    pages = sum(len(m.pages) for m in course.modules)
    print(
        f"course {course.id} {course.version}: {len(course.modules)} modules, {pages} pages, "
        f"{len(course.exercises())} exercises/questions, study time {study_minutes(course):.0f} min"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        times = time_builds(args.course, out, args.repeat)
        print(f"build time (median of {args.repeat}, load + render + validate + zip):")
        for standard in STANDARDS:
            zip_path = next(out.glob(f"*-{standard}.zip"))
            print(
                f"  {standard:<10} {statistics.median(times[standard]) * 1000:7.1f} ms"
                f"   zip {zip_path.stat().st_size / 1024:6.1f} KiB ({zip_path.stat().st_size} bytes)"
            )
        if not args.no_browser:
            print(
                "full run in Chromium against scorm-again (every page, every exercise, reflections at max length):"
            )
            for standard, (longest, limit, status) in full_run_suspend_data(
                args.course, out
            ).items():
                print(
                    f"  {standard:<10} largest suspend_data {longest:5d} / {limit} chars   final status {status}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
