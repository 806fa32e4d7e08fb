"""`steun instruments check/list`, and `steun serve` refusing a bad definition before it starts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from steun_lti.cli import main
from steun_lti.plumbing.settings import Settings
from tests.steun_lti.questionnaires.conftest import minimal, write


def bad_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir()
    data = minimal()
    data["sections"][0]["pages"][1]["items"][1]["show_if"] = {"item": "q9", "equals": 1}
    write(folder, data, "licensed.yaml")
    return folder


def test_check_passes_the_bundled_definitions(runner: CliRunner, settings: Settings) -> None:
    result = runner.invoke(main, ["instruments", "check"], obj={"settings": settings})
    assert result.exit_code == 0, result.output
    assert "OK: 3 instruments, study 'steun-demo' with 3 waves" in result.output


def test_check_names_file_item_and_reason(
    runner: CliRunner, settings: Settings, tmp_path: Path
) -> None:
    folder = bad_folder(tmp_path)
    result = runner.invoke(main, ["instruments", "check", str(folder)], obj={"settings": settings})
    assert result.exit_code == 2
    assert "Error: " in result.output
    assert (
        "licensed.yaml, item 'q4': show_if refers to 'q9', which is not an earlier item"
        in result.output
    )
    assert "Traceback" not in result.output


def test_list_shows_items_and_subscales(runner: CliRunner, settings: Settings) -> None:
    result = runner.invoke(main, ["instruments", "list"], obj={"settings": settings})
    assert result.exit_code == 0
    assert "demo-relationship 1.0 [teacher]" in result.output
    assert "closeness (11), conflict (12), dependency (5)" in result.output


def test_serve_refuses_a_bad_definition_before_starting(
    runner: CliRunner, settings: Settings, tmp_path: Path
) -> None:
    settings.instruments_dir = bad_folder(tmp_path)
    result = runner.invoke(main, ["serve"], obj={"settings": settings})
    assert result.exit_code == 2
    assert "licensed.yaml, item 'q4'" in result.output
