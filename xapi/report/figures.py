"""The report's figures (matplotlib, Agg), each returned as a PNG data URI, or None when there
is nothing to draw: the page then says so in a sentence instead of showing an empty chart.

Rules kept here: long labels go on a horizontal axis (horizontal bars, wrapped text), dates get a
date axis fitted to the data (one day of answers is one day wide, not four years), means and
changes carry their 95% CI as error bars.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from xapi.report.analysis import Analysis, GroupResult, ScoreResult
from xapi.report.stats import Summary

BEFORE, AFTER, MEAN = "#7a7a7a", "#2a7ab0", "#2a7ab0"


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def to_uri(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _wrap(text: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _short(label: str, n: int) -> str:
    """A group's label on at most two lines: the Dutch part (the table has both), shortened."""
    dutch = label.split(" / ")[0]
    return _wrap(textwrap.shorten(dutch, 52, placeholder="…") + f" (n={n})", 32)


def _err(summary: Summary) -> tuple[list[float], list[float]] | None:
    if summary.mean is None or summary.ci_low is None or summary.ci_high is None:
        return None
    return [summary.mean - summary.ci_low], [summary.ci_high - summary.mean]


def _point(ax: Any, x: float, y: float, summary: Summary, color: str, horizontal: bool) -> None:
    err = _err(summary)
    if horizontal:
        ax.errorbar(x, y, xerr=err, fmt="o", color=color, capsize=4)
    else:
        ax.errorbar(x, y, yerr=err, fmt="o", color=color, capsize=4)


def means_figure(analysis: Analysis, results: Sequence[ScoreResult]) -> str | None:
    """Per score a panel: the mean per wave with its 95% CI; a dashed line marks the course."""
    drawn = [r for r in results if any(s.n for s in r.per_wave.values())]
    if not drawn:
        return None
    cols = min(3, len(drawn))
    rows = math.ceil(len(drawn) / cols)
    fig = _figure(3.3 * cols, 2.9 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    waves = analysis.waves
    for ax, result in zip(axes.flat, drawn, strict=False):
        xs, ys = [], []
        for x, wave in enumerate(waves):
            s = result.per_wave[wave]
            if s.mean is None:
                continue
            _point(ax, x, s.mean, s, MEAN, horizontal=False)
            xs.append(x)
            ys.append(s.mean)
        ax.plot(xs, ys, color=MEAN, alpha=0.5)
        ax.set_xticks(
            range(len(waves)), [f"{w}\nn={result.per_wave[w].n}" for w in waves], fontsize=8
        )
        ax.set_xlim(-0.5, len(waves) - 0.5)
        if analysis.design is not None:
            pivot = waves.index(analysis.design[1])
            ax.axvline(pivot + 0.5, color="#c44", linestyle="--", linewidth=1)
        ax.set_title(_wrap(result.score.label, 34), fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[len(drawn) :]:
        ax.set_visible(False)
    if analysis.design is not None:
        fig.suptitle(
            "gemiddelde met 95%-BI; - - - cursus / mean with 95% CI; - - - course", fontsize=9
        )
    return to_uri(fig)


def change_figure(analysis: Analysis, results: Sequence[ScoreResult]) -> str | None:
    """Per score: the mean within-child change before the course and after it, with 95% CIs."""
    rows = [
        r for r in results if (r.before and r.before.summary.n) or (r.after and r.after.summary.n)
    ]
    if analysis.design is None or not rows:
        return None
    w0, w1, w2 = analysis.design
    fig = _figure(7.5, 0.9 + 0.6 * len(rows))
    ax = fig.subplots()
    for y, result in enumerate(reversed(rows)):
        for change, offset, color in ((result.before, 0.15, BEFORE), (result.after, -0.15, AFTER)):
            if change is not None and change.summary.mean is not None:
                _point(ax, change.summary.mean, y + offset, change.summary, color, horizontal=True)
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [_wrap(r.score.label, 30) for r in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("gemiddelde verandering per kind / mean change per child (95% CI)", fontsize=8)
    _legend(
        fig, f"zonder cursus / without course ({w0}→{w1})", f"met cursus / with course ({w1}→{w2})"
    )
    return to_uri(fig)


def _legend(fig: Any, before: str, after: str) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", color=BEFORE, label=before),
        Line2D([], [], marker="o", color=AFTER, label=after),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)


def groups_figure(
    groups_per_score: Sequence[tuple[ScoreResult, Sequence[GroupResult]]], what: str
) -> str | None:
    """Per score a panel, per group a row: the change after the course and before it."""
    panels = [(r, gs) for r, gs in groups_per_score if any(g.after.n or g.before.n for g in gs)]
    if not panels:
        return None
    n_groups = max(len(gs) for _, gs in panels)
    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = _figure(5.2 * cols, (0.9 + 0.5 * n_groups) * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (result, groups) in zip(axes.flat, panels, strict=False):
        ordered = list(reversed(groups))
        for y, g in enumerate(ordered):
            for s, offset, color in ((g.before, 0.15, BEFORE), (g.after, -0.15, AFTER)):
                if s.mean is not None:
                    _point(ax, s.mean, y + offset, s, color, horizontal=True)
        ax.axvline(0, color="#444", linewidth=0.8)
        ax.set_yticks(
            range(len(ordered)),
            [_short(g.label, g.children) for g in ordered],
            fontsize=7,
        )
        ax.set_ylim(-0.6, len(ordered) - 0.4)
        ax.set_title(_wrap(result.score.label, 50), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"verandering per kind (95%-BI) / change per child (95% CI), {what}", fontsize=8)
    _legend(fig, "zonder cursus / without the course", "met cursus / with the course")
    return to_uri(fig)


def answers_per_day_figure(analysis: Analysis) -> str | None:
    ax = answers_per_day_axes(analysis)
    return None if ax is None else to_uri(ax.figure)


def answers_per_day_axes(analysis: Analysis) -> Any:
    """Answers per day, stacked by wave, on a date axis fitted to the days that have answers."""
    per_day = analysis.answers_per_day
    days = sorted({d for per in per_day.values() for d in per})
    if not days:
        return None
    from matplotlib import dates as mdates

    parsed = {d: datetime.fromisoformat(d) for d in days}
    fig = _figure(8, 3)
    ax = fig.subplots()
    bottom = dict.fromkeys(days, 0)
    waves = [w for w in analysis.waves if w in per_day] + sorted(
        w for w in per_day if w not in analysis.waves
    )
    for wave in waves:
        heights = [per_day[wave].get(d, 0) for d in days]
        ax.bar(
            [parsed[d] for d in days],
            heights,
            width=0.8,
            bottom=[bottom[d] for d in days],
            label=wave,
        )
        for d, h in zip(days, heights, strict=True):
            bottom[d] += h
    first, last = parsed[days[0]], parsed[days[-1]]
    ax.set_xlim(first - timedelta(days=1), last + timedelta(days=1))
    span = (last - first).days + 2
    locator: Any = (
        mdates.DayLocator(interval=max(1, math.ceil(span / 8)))
        if span <= 60
        else mdates.AutoDateLocator(maxticks=8)
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel("antwoorden / answers", fontsize=8)
    ax.legend(title="meetmoment / wave", fontsize=8, title_fontsize=8)
    return ax


def completion_figure(analysis: Analysis) -> str | None:
    rows = analysis.response_by_instrument
    if not rows:
        return None
    fig = _figure(7.5, 0.8 + 0.4 * len(rows))
    ax = fig.subplots()
    ordered = list(reversed(rows))
    rates = [100.0 * done / started if started else 0.0 for _, _, started, done in ordered]
    ax.barh(range(len(ordered)), rates, color="#2a7ab0")
    ax.set_yticks(range(len(ordered)), [f"{w} · {i}" for w, i, _, _ in ordered], fontsize=8)
    for y, (rate, (_, _, started, done)) in enumerate(zip(rates, ordered, strict=True)):
        inside = rate > 25
        ax.text(
            rate - 1 if inside else rate + 1,
            y,
            f"{done}/{started}",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else "#222",
            fontsize=8,
        )
    ax.set_xlim(0, 100)
    ax.set_xlabel("% voltooid van begonnen / % completed of started", fontsize=8)
    return to_uri(fig)


def modules_figure(analysis: Analysis) -> str | None:
    if not analysis.course_modules:
        return None
    xs = list(analysis.course_modules)
    fig = _figure(min(7.5, 2.5 + 0.6 * len(xs)), 2.6)
    ax = fig.subplots()
    ax.bar(
        [str(x) for x in xs], [analysis.course_modules[x] for x in xs], color="#5a9e4b", width=0.6
    )
    ax.set_xlim(-0.7, len(xs) - 0.3)
    ax.set_xlabel("modules voltooid / modules completed", fontsize=8)
    ax.set_ylabel("leerkrachten / teachers", fontsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return to_uri(fig)
