"""A one-file HTML report (figures embedded as data URIs): it opens in a browser with no server."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xapi.export.dataset import Dataset
from xapi.private_files import private_file, seal_mode


def _figure_uri(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def build_report(data: Dataset, title: str = "Steun — rapportage / report") -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    sections: list[str] = []

    # 1. answers per wave over time
    by_wave: dict[str, dict[str, int]] = defaultdict(dict)
    for (wave, day), n in data.answers_per_day.items():
        by_wave[wave][day] = n
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    for wave in sorted(by_wave):
        days = sorted(by_wave[wave])
        ax.plot(
            [datetime.fromisoformat(d) for d in days],  # type: ignore[arg-type]
            [by_wave[wave][d] for d in days],
            marker="o",
            label=wave,
        )
    ax.set_ylabel("antwoorden per dag / answers per day")
    if by_wave:
        ax.legend(title="meetmoment / wave")
    fig.autofmt_xdate()
    sections.append(_section("Antwoorden per meetmoment / Responses per wave", _figure_uri(fig)))

    # 2. completion per wave and instrument
    started: dict[tuple[str, str], int] = defaultdict(int)
    done: dict[tuple[str, str], int] = defaultdict(int)
    for key, per in data.started.items():
        for inst in per:
            started[(key[3], inst)] += 1
            if inst in data.completed.get(key, {}):
                done[(key[3], inst)] += 1
    labels = sorted(started)
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    rates = [100.0 * done[k] / started[k] for k in labels]
    ax.bar([f"{w}\n{i}" for w, i in labels], rates, color="#2a7ab0")
    ax.set_ylim(0, 100)
    ax.set_ylabel("% voltooid / completed")
    rows = "".join(
        f"<tr><td>{html.escape(w)}</td><td>{html.escape(i)}</td><td>{started[(w, i)]}</td>"
        f"<td>{done[(w, i)]}</td><td>{100.0 * done[(w, i)] / started[(w, i)]:.0f}%</td></tr>"
        for w, i in labels
    )
    table = (
        "<table><tr><th>meetmoment / wave</th><th>vragenlijst / instrument</th>"
        "<th>begonnen / started</th><th>voltooid / completed</th><th>%</th></tr>"
        f"{rows}</table>"
    )
    sections.append(_section("Voltooiing / Completion rates", _figure_uri(fig), table))

    # 3. course progress
    counts: dict[int, int] = defaultdict(int)
    completed = 0
    for cp in data.course.values():
        counts[len(cp.modules_completed)] += 1
        completed += 1 if cp.course_completed_at else 0
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    xs = sorted(counts)
    ax.bar([str(x) for x in xs], [counts[x] for x in xs], color="#5a9e4b")
    ax.set_xlabel("modules voltooid / modules completed")
    ax.set_ylabel("leerkrachten / teachers")
    total = len(data.course)
    summary = (
        f"<p>{total} leerkrachten in de cursus / teachers in the course; "
        f"{completed} voltooiden hem / completed it.</p>"
    )
    sections.append(_section("Cursusvoortgang / Course progress", _figure_uri(fig), summary))

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}
img{{max-width:100%}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25rem .5rem}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>Gemaakt / generated {generated} uit {data.statements_read} statements.
Alleen pseudoniemen en codes / pseudonyms and codes only.</p>
{"".join(sections)}
</body></html>
"""


def _section(title: str, image: str, extra: str = "") -> str:
    return (
        f'<section><h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" src="{image}">'
        f"{extra}</section>"
    )


def write_report(data: Dataset, path: Path) -> Path:
    text = build_report(data)
    private_file(path).write_text(text, encoding="utf-8")  # 0600: it holds research data
    return seal_mode(path)
