"""``python build_scorm.py``: build the course packages; bad input gives ``Error: ...`` and exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scorm_package.build import DEFAULT_COURSE, build
from scorm_package.exceptions import ScormPackageError
from scorm_package.manifest import STANDARDS
from scorm_package.render import (
    FINAL_CHECK_MINUTES_PER_QUESTION,
    estimate_study_time,
    study_minutes,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="build_scorm.py",
        description="Build the course 'Steun in het onderwijs' into SCORM packages.",
    )
    p.add_argument("--standard", choices=STANDARDS, help="build one standard only (default: both)")
    p.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    p.add_argument(
        "--course",
        type=Path,
        default=DEFAULT_COURSE,
        help="course source folder (default: scorm_package/course)",
    )
    p.add_argument(
        "--relay-url",
        metavar="URL",
        help="learning-records relay: the runtime POSTs course events as JSON to this URL",
    )
    p.add_argument(
        "--relay-key",
        metavar="KID:KEY",
        help="the package key of one registered LMS, as `steun platform course-key` prints it "
        "(needs --relay-url). Without both, the package sends no course events; an LMS admin "
        "downloads a keyed copy from the tool's /lti/admin page instead",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    standards = (args.standard,) if args.standard else STANDARDS
    try:
        course, results = build(args.course, args.out, standards, args.relay_url, args.relay_key)
    except ScormPackageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(f"Course '{course.title['nl']}' {course.version}: {len(course.modules)} modules")
    for est in estimate_study_time(course):
        print(
            f"  {est.module.id:<32} {est.module.minutes:>4.0f} min"
            f"  (source: {est.words} words ≈ {est.words / 180:.0f} min reading"
            f" + {est.media_minutes:.0f} media + {est.exercise_minutes:.0f} exercises"
            f" = {est.estimate:.0f} min)"
        )
    total_estimate = sum(e.estimate for e in estimate_study_time(course))
    questions = len(course.final_check.questions) if course.final_check else 0
    check = questions * FINAL_CHECK_MINUTES_PER_QUESTION
    print(
        f"Study time: {study_minutes(course):.0f} minutes (modules {course.minutes:.0f}"
        f" + final check {check:.0f} for {questions} questions; source estimate of the modules"
        f" {total_estimate:.0f})"
    )
    for result in results:
        print(
            f"{result.standard:<10} {result.path}  {result.size / 1024:.0f} KiB  {result.seconds:.2f} s"
        )
    return 0
