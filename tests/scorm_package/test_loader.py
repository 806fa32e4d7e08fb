"""A broken course source stops the build with a message naming the file and the line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from scorm_package.exceptions import BuildError
from scorm_package.loader import load_course
from tests.scorm_package.conftest import MINI, ROOT

MODULE1 = Path("modules/01-begin/module.yaml")
MODULE2 = Path("modules/02-verder/module.yaml")


def edit(course: Path, rel: Path | str, old: str, new: str) -> None:
    path = course / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(course: Path, rel: Path | str, needle: str) -> int:
    for number, line in enumerate((course / rel).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {rel}")


def expect_error(course: Path, rel: Path | str, line: int | None, pattern: str) -> BuildError:
    with pytest.raises(BuildError) as info:
        load_course(course)
    err = info.value
    assert err.path is not None and err.path.resolve() == (course / rel).resolve(), str(err)
    assert err.line == line, str(err)
    assert re.search(pattern, err.message), err.message
    assert str(err).startswith(f"{err.path}:{line}: " if line else f"{err.path}: ")
    return err


def test_fixture_course_loads() -> None:
    course = load_course(MINI)
    assert [m.id for m in course.modules] == ["begin", "verder"]
    assert [e.key for e in course.exercises()] == [
        "begin.keuze",
        "begin.reflectie",
        "verder.meer",
        "verder.sorteren",
        "verder.reflectie-2",
        "final.fc1",
        "final.fc2",
    ]
    assert course.final_check is not None and course.final_check.pass_mark == 50
    assert course.modules[1].title == {"nl": "Verder"}
    assert course.minutes == 11


def test_bad_yaml(course_copy: Path) -> None:
    edit(course_copy, MODULE1, "minutes: 6", "minutes: [6")
    expect_error(course_copy, MODULE1, 4, r"bad YAML")


def test_unknown_page_type(course_copy: Path) -> None:
    edit(course_copy, MODULE1, "type: case", "type: story")
    line = line_of(course_copy, MODULE1, "type: story")
    expect_error(course_copy, MODULE1, line, r"unknown page type 'story'")


def test_unknown_exercise_type(course_copy: Path) -> None:
    edit(course_copy, MODULE2, "type: sorting", "type: ranking")
    line = line_of(course_copy, MODULE2, "type: ranking")
    expect_error(course_copy, MODULE2, line, r"unknown exercise type 'ranking'")


def test_missing_page_file(course_copy: Path) -> None:
    (course_copy / "modules/01-begin/02-casus.md").unlink()
    line = line_of(course_copy, MODULE1, "file: 02-casus.md")
    expect_error(course_copy, MODULE1, line, r"page file '02-casus.md' not found")


def test_missing_module_folder(course_copy: Path) -> None:
    edit(course_copy, "course.yaml", "  - 02-verder", "  - 03-weg")
    line = line_of(course_copy, "course.yaml", "03-weg")
    expect_error(course_copy, "course.yaml", line, r"module folder 'modules/03-weg' not found")


def test_missing_captions_for_a_media_slot(course_copy: Path) -> None:
    (course_copy / "media/alarm.vtt").unlink()
    line = line_of(course_copy, MODULE2, "slot: alarm")
    expect_error(course_copy, MODULE2, line, r"media/alarm\.vtt")


def test_unknown_key(course_copy: Path) -> None:
    edit(course_copy, MODULE1, "minutes: 6", "minutes: 6\nduration: 6")
    expect_error(
        course_copy, MODULE1, line_of(course_copy, MODULE1, "duration"), r"unknown key 'duration'"
    )


def test_missing_required_key(course_copy: Path) -> None:
    edit(course_copy, MODULE2, '    title: "Achtergrond"\n', "")
    line = line_of(course_copy, MODULE2, "id: lezen")
    expect_error(course_copy, MODULE2, line, r"missing the required key 'title'")


def test_choice_needs_exactly_one_correct_option(course_copy: Path) -> None:
    edit(
        course_copy,
        MODULE1,
        '"Je vraagt waarom hij niet terug groet"',
        '"Je vraagt waarom", correct: true',
    )
    line = line_of(course_copy, MODULE1, "options:")
    expect_error(course_copy, MODULE1, line, r"exactly one correct option, found 2")


def test_sorting_item_with_unknown_category(course_copy: Path) -> None:
    edit(course_copy, MODULE2, "category: structuur}", "category: regels}")
    line = line_of(course_copy, MODULE2, "category: regels")
    expect_error(course_copy, MODULE2, line, r"unknown category 'regels'")


def test_bad_id_and_duplicate_id(course_copy: Path) -> None:
    edit(course_copy, MODULE1, "id: casus", "id: Casus Sem")
    line = line_of(course_copy, MODULE1, "id: Casus Sem")
    expect_error(course_copy, MODULE1, line, r"must match \[a-z0-9-\]\+")
    edit(course_copy, MODULE1, "id: Casus Sem", "id: intro")
    second_intro = line_of(course_copy, MODULE1, "type: case") - 1  # the list item's first line
    expect_error(course_copy, MODULE1, second_intro, r"duplicate page id 'intro'")


def test_duplicate_yaml_key(course_copy: Path) -> None:
    edit(course_copy, "course.yaml", 'version: "0.1.0"', 'version: "0.1.0"\nversion: "0.2.0"')
    line = line_of(course_copy, "course.yaml", '"0.2.0"')
    expect_error(course_copy, "course.yaml", line, r"duplicate key 'version'")


def test_final_check_errors(course_copy: Path) -> None:
    edit(course_copy, "course.yaml", "pass_mark: 50", "pass_mark: 150")
    line = line_of(course_copy, "course.yaml", "pass_mark")
    expect_error(
        course_copy,
        "course.yaml",
        line,
        r"'pass_mark' of final_check must be a number from 0 to 100",
    )


def test_image_without_alt_text_names_the_markdown_line(course_copy: Path, tmp_path: Path) -> None:
    from scorm_package.build import build

    md = Path("modules/02-verder/01-lezen.md")
    edit(course_copy, md, "![Een schema: alarm, reactie, herstel]", "![]")
    line = line_of(course_copy, md, "![](")
    with pytest.raises(BuildError) as info:
        build(course_copy, tmp_path / "out")
    assert info.value.path == (course_copy / md).resolve() and info.value.line == line
    assert "no alt text" in info.value.message


def test_missing_image(course_copy: Path, tmp_path: Path) -> None:
    from scorm_package.build import build

    (course_copy / "media/schema.svg").unlink()
    with pytest.raises(
        BuildError, match=r"01-lezen\.md:3: image '../../media/schema.svg' not found"
    ):
        build(course_copy, tmp_path / "out")


def test_cli_prints_error_and_exits_2(course_copy: Path, tmp_path: Path) -> None:
    edit(course_copy, MODULE1, "type: case", "type: story")
    line = line_of(course_copy, MODULE1, "type: story")
    proc = subprocess.run(
        [
            sys.executable,
            "build_scorm.py",
            "--course",
            str(course_copy),
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: ")
    assert f"module.yaml:{line}: unknown page type 'story'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_cli_rejects_missing_course_folder(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "build_scorm.py",
            "--course",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        proc.returncode == 2
        and "Error: " in proc.stderr
        and "course folder not found" in proc.stderr
    )


def test_feedback_that_repeats_the_verdict_is_refused(course_copy: Path) -> None:
    """The course shows "Goed!" / "Niet helemaal." itself; "Goed! Goed gekozen." says it twice."""
    edit(course_copy, MODULE1, 'feedback: "Je laat zien', 'feedback: "Goed gekozen. Je laat zien')
    line = line_of(course_copy, MODULE1, "Goed gekozen.")
    expect_error(course_copy, MODULE1, line, r"starts with the verdict 'Goed gekozen\.'")
    # in a multiple-answer exercise each chosen option's "Klopt." says which choices were right
    edit(course_copy, MODULE1, 'feedback: "Goed gekozen. Je laat zien', 'feedback: "Je laat zien')
    edit(course_copy, MODULE2, 'feedback: "Klopt."}', 'feedback: "Klopt. Onrust is een signaal."}')
    load_course(course_copy)
    edit(course_copy, "course.yaml", "Voorspelbaarheid geeft", "Juist. Voorspelbaarheid geeft")
    line = line_of(course_copy, "course.yaml", "Juist. Voorspelbaarheid")
    expect_error(course_copy, "course.yaml", line, r"starts with the verdict 'Juist\.'")


def test_the_real_course_never_repeats_a_verdict() -> None:
    from scorm_package.build import DEFAULT_COURSE
    from scorm_package.exercises import VERDICT

    for ex in load_course(DEFAULT_COURSE).exercises():
        if ex.type in ("choice", "sorting"):
            texts = [o.feedback for o in ex.options] + list(ex.feedback.values())
            assert not [t for t in texts if VERDICT.match(t)], ex.key
