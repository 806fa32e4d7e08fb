"""Every `steun ...` command quoted in the guides exists, with the options it is quoted with."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from steun_lti.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*ROOT.glob("docs/*.md"), *ROOT.glob("docs/decisions/*.md"), ROOT / "README.md"])
FENCE = re.compile(r"^(```|~~~)")
INLINE = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"(?:^|[\s;&|(])steun\s+([a-z][^\n]*)")


def code_lines(text: str) -> list[str]:
    """Lines of fenced code blocks (comments dropped, backslash continuations joined) and inline code."""
    found: list[str] = []
    in_block = False
    pending = ""
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            in_block = not in_block
            pending = ""
            continue
        if in_block:
            code = re.sub(r"(^|\s)#.*$", "", line).rstrip()
            if code.endswith("\\"):
                pending += code[:-1] + " "
                continue
            found.append(pending + code)
            pending = ""
        else:
            found.extend(INLINE.findall(line))
    return found


def quoted_commands() -> list[tuple[str, str]]:
    commands = []
    for path in DOCS:
        for line in code_lines(path.read_text(encoding="utf-8")):
            for match in COMMAND.finditer(line):
                commands.append((path.name, "steun " + match.group(1).strip()))
    return commands


def resolve(words: list[str]) -> tuple[list[str], click.Command]:
    """The command path a quoted line names (groups followed as far as the words go)."""
    path: list[str] = []
    command: click.Command = main
    for word in words:
        if isinstance(command, click.Group) and word in command.commands:
            command = command.commands[word]
            path.append(word)
        else:
            break
    return path, command


QUOTED = quoted_commands()


def test_the_guides_quote_commands() -> None:
    names = {doc for doc, _ in QUOTED}
    assert {"admin.md", "researcher.md"} <= names, names


@pytest.mark.parametrize(("doc", "line"), QUOTED, ids=[f"{d}:{c[:60]}" for d, c in QUOTED])
def test_quoted_command_exists(doc: str, line: str) -> None:
    words = line.split()[1:]
    path, command = resolve(words)
    assert path, f"{doc}: `{line}` names no steun command"
    assert not isinstance(command, click.Group), f"{doc}: `{line}` stops at a command group"
    known = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    for word in words[len(path) :]:
        option = word.strip("[]").split("=", 1)[0]
        if option.startswith("--"):
            assert option in known | {"--help"}, f"{doc}: `{line}`: {option} is no option"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
