"""``steun report``: one self-contained HTML file (figures as data URIs) that answers the
study's question first (does the teacher's view of the child change more after the course than
without it?) and then shows how the data came in.

Texts a researcher reads are Dutch first, English second. Numbers come from
:mod:`xapi.report.analysis`, scored with the export's scoring spec, so they match ``wide.csv``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from xapi.export.dataset import Dataset
from xapi.export.spec import ScoringSpec
from xapi.private_files import private_file, seal_mode
from xapi.report import figures
from xapi.report.analysis import (
    Analysis,
    GroupResult,
    ScoreResult,
    StudyLayout,
    analyse,
    wave_label,
)
from xapi.report.stats import Summary

__all__ = ["StudyLayout", "analyse", "build_report", "write_report"]

DASH = "–"


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def ci(summary: Summary) -> str:
    if summary.ci_low is None or summary.ci_high is None:
        return DASH
    return f"[{summary.ci_low:.2f}; {summary.ci_high:.2f}]"


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], ids: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        attr = f' id="{_e(ids[i])}"' if i < len(ids) and ids[i] else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(uri: str | None, alt: str, empty: str) -> str:
    if uri is None:
        return f'<p class="empty">{_e(empty)}</p>'
    return f'<img alt="{_e(alt)}" src="{uri}">'


def row_id(*parts: str) -> str:
    """The HTML id of a table row (tests and readers can point at one number)."""
    return "-".join(p.replace(" ", "_") for p in parts)


SUMMARY_HEAD = ["n", "gem. / mean", "SD", "95%-BI / 95% CI"]
CHANGE_HEAD = ["n paren / pairs", "gem. verschil / mean diff.", "SD", "95%-BI / 95% CI", "d_z"]


def _summary_cells(s: Summary) -> list[str]:
    return [str(s.n), num(s.mean), num(s.sd), ci(s)]


def _change_cells(s: Summary) -> list[str]:
    return [str(s.n), num(s.mean), num(s.sd), ci(s), num(s.d_z)]


def _scored(analysis: Analysis) -> list[ScoreResult]:
    """The scores with a value at some wave (instruments nobody answered yet are left out)."""
    return [r for r in analysis.scores if any(s.n for s in r.per_wave.values())]


def _instruments(analysis: Analysis) -> list[tuple[str, str, list[ScoreResult]]]:
    out: dict[str, tuple[str, str, list[ScoreResult]]] = {}
    for r in _scored(analysis):
        out.setdefault(r.score.instrument, (r.score.instrument, r.score.instrument_label, []))[
            2
        ].append(r)
    return list(out.values())


def _answer_section(analysis: Analysis) -> str:
    title = "1. De vraag: verandert het beeld meer na de cursus? / Does the view change more after the course?"
    if not analysis.scores:
        return _section(
            title,
            "<p>Geen scores: de scoringsspecificatie noemt geen subschalen voor deze vragenlijsten. "
            "/ No scores: the scoring spec names no subscales for these questionnaires "
            "(<code>steun report --spec</code>).</p>",
        )
    if not _scored(analysis):
        return _section(
            title,
            '<p class="empty">Nog geen scores: nog geen vragenlijst met subschalen beantwoord. '
            "/ No scores yet: no questionnaire with subscales answered.</p>",
        )
    if analysis.design is None:
        return _section(
            title,
            '<p class="empty">Nog geen vergelijking: daarvoor zijn twee meetmomenten vóór de '
            "cursus en één erna nodig (meetmomenten nu: "
            f"{_e(', '.join(analysis.waves) or DASH)}). / No comparison yet: it needs two waves "
            "before the course and one after it. Zie de scores per meetmoment hieronder. / See "
            "the scores per wave below.</p>",
        )
    w0, w1, w2 = analysis.design
    parts = [
        "<p>Per kind (een leerkracht over één kind) de verandering zonder cursus "
        f"(<b>{_e(w0)}→{_e(w1)}</b>) en met cursus (<b>{_e(w1)}→{_e(w2)}</b>), en het verschil "
        f"daartussen per kind: ({_e(w2)} − {_e(w1)}) − ({_e(w1)} − {_e(w0)}). Een verschil groter dan "
        "0 met een BI dat 0 niet bevat: meer verandering na de cursus dan ervoor. / Per child "
        "(one teacher about one child) the change without the course and with it, and the "
        "difference between them per child. Above 0 with a CI excluding 0: more change after the "
        "course than before. Only children with a score at all three waves count in the "
        "difference.</p>"
    ]
    for inst, label, results in _instruments(analysis):
        rows, ids = [], []
        for r in results:
            before = r.before.summary if r.before else Summary(0, None, None, None, None)
            after = r.after.summary if r.after else Summary(0, None, None, None, None)
            did = r.did or Summary(0, None, None, None, None)
            rows.append(
                [
                    r.score.label,
                    f"{num(before.mean)} {ci(before)} (n={before.n})",
                    f"{num(after.mean)} {ci(after)} (n={after.n})",
                    str(did.n),
                    num(did.mean),
                    ci(did),
                    num(did.d_z),
                ]
            )
            ids.append(row_id("did", r.score.column))
        parts.append(f"<h3>{_e(label)} <small>({_e(inst)})</small></h3>")
        parts.append(
            _table(
                [
                    "schaal / scale",
                    f"zonder cursus / without ({w0}→{w1})",
                    f"met cursus / with ({w1}→{w2})",
                    "n kinderen / children",
                    "verschil in verandering / difference in change",
                    "95%-BI / 95% CI",
                    "d_z",
                ],
                rows,
                ids,
            )
        )
        parts.append(
            _img(
                figures.change_figure(analysis, results),
                f"Verandering zonder en met cursus / change without and with the course: {label}",
                "Nog geen kinderen met scores op twee opeenvolgende meetmomenten. / No children "
                "with scores at two consecutive waves yet.",
            )
        )
    return _section(title, "".join(parts))


def _waves_section(analysis: Analysis) -> str:
    title = "2. Scores per meetmoment / Scores per wave"
    if not _scored(analysis):
        return ""
    parts = [
        "<p>Gemiddelde per meetmoment over alle kinderen met een score (niet alleen de kinderen "
        "met alle meetmomenten); 95%-BI met de t-verdeling. / Mean per wave over every child with "
        "a score; 95% CI from the t distribution.</p>"
    ]
    for inst, label, results in _instruments(analysis):
        rows, ids = [], []
        for r in results:
            for w in analysis.waves:
                rows.append(
                    [r.score.label, wave_label(analysis, w), *_summary_cells(r.per_wave[w])]
                )
                ids.append(row_id("wave", r.score.column, w))
        parts.append(f"<h3>{_e(label)} <small>({_e(inst)})</small></h3>")
        parts.append(_table(["schaal / scale", "meetmoment / wave", *SUMMARY_HEAD], rows, ids))
        parts.append(
            _img(
                figures.means_figure(analysis, results),
                f"Gemiddelden per meetmoment / means per wave: {label}",
                "Nog geen scores. / No scores yet.",
            )
        )
    return _section(title, "".join(parts))


def _paired_section(analysis: Analysis) -> str:
    title = "3. Verandering binnen het kind / Within-child change"
    if not _scored(analysis) or len(analysis.waves) < 2:
        return ""
    parts = [
        "<p>Gepaarde verschillen (later − eerder) per kind, voor elk paar opeenvolgende "
        "meetmomenten. d_z = gemiddeld verschil / SD van de verschillen. / Paired differences "
        "(later − earlier) per child for each pair of consecutive waves; d_z = mean difference / "
        "SD of the differences.</p>"
    ]
    rows, ids = [], []
    for r in _scored(analysis):
        for c in r.changes:
            rows.append(
                [r.score.instrument, r.score.label, f"{c.a}→{c.b}", *_change_cells(c.summary)]
            )
            ids.append(row_id("change", r.score.column, c.a, c.b))
        if r.did is not None and analysis.design is not None:
            w0, w1, w2 = analysis.design
            rows.append(
                [
                    r.score.instrument,
                    r.score.label,
                    f"({w1}→{w2}) − ({w0}→{w1})",
                    *_change_cells(r.did),
                ]
            )
            ids.append(row_id("did-row", r.score.column))
    parts.append(
        _table(
            ["vragenlijst / instrument", "schaal / scale", "verandering / change", *CHANGE_HEAD],
            rows,
            ids,
        )
    )
    return _section(title, "".join(parts))


def _groups_table(groups: Sequence[GroupResult], column: str, kind: str) -> str:
    rows, ids = [], []
    for g in groups:
        rows.append(
            [
                g.label,
                str(g.children),
                f"{num(g.before.mean)} {ci(g.before)} (n={g.before.n})",
                f"{num(g.after.mean)} {ci(g.after)} (n={g.after.n})",
                f"{num(g.did.mean)} {ci(g.did)} (n={g.did.n})",
            ]
        )
        ids.append(row_id(kind, column, g.group or "none"))
    return _table(
        [
            "groep / group",
            "kinderen / children",
            "zonder cursus / without",
            "met cursus / with",
            "verschil in verandering / difference",
        ],
        rows,
        ids,
    )


def _reason_section(analysis: Analysis) -> str:
    title = "4. Per reden / By reason the child was picked"
    if analysis.design is None or not analysis.by_reason:
        return _section(
            title,
            "<p>Nog niet te berekenen: er zijn nog geen drie meetmomenten met scores. / Not yet: "
            "there are no three waves with scores.</p>",
        )
    parts = [
        "<p>Een kind telt mee bij elke reden die de leerkracht aanvinkte (meer redenen per kind "
        "kan: de groepen overlappen). Kleine groepen geven brede intervallen. / A child counts "
        "in every reason its teacher ticked (groups overlap). Small groups give wide "
        "intervals.</p>"
    ]
    for inst, label, results in _instruments(analysis):
        parts.append(f"<h3>{_e(label)} <small>({_e(inst)})</small></h3>")
        for r in results:
            parts.append(f"<h4>{_e(r.score.label)}</h4>")
            parts.append(
                _groups_table(analysis.by_reason[r.score.column], r.score.column, "reason")
            )
        parts.append(
            _img(
                figures.groups_figure(
                    [(r, analysis.by_reason[r.score.column]) for r in results],
                    "per reden / by reason",
                ),
                f"Verandering per reden / change by reason: {label}",
                "Nog geen kinderen met redenen en scores. / No children with reasons and scores yet.",
            )
        )
    return _section(title, "".join(parts))


def _course_section(analysis: Analysis) -> str:
    title = "5. Per cursusvoortgang / By course progress"
    summary = (
        f"<p>{analysis.course_teachers} leerkrachten met cursusgegevens, van wie "
        f"{analysis.course_completed} de cursus voltooiden. / {analysis.course_teachers} teachers "
        f"with course records, {analysis.course_completed} of whom completed the course. "
        "Cursus- en vragenlijstgegevens zijn gekoppeld op het pseudoniem. / Course and "
        "questionnaire records are joined on the pseudonym.</p>"
    )
    if not analysis.course_teachers:
        return _section(
            title, '<p class="empty">Nog geen cursusgegevens. / No course records yet.</p>'
        )
    parts = [summary]
    parts.append(
        _img(
            figures.modules_figure(analysis),
            "Modules voltooid / modules completed",
            "Nog geen cursusgegevens. / No course records yet.",
        )
    )
    if analysis.design is None or not analysis.by_course:
        parts.append(
            "<p>De verandering per cursusvoortgang volgt zodra er drie meetmomenten met scores "
            "zijn. / Change by course progress follows once three waves have scores.</p>"
        )
        return _section(title, "".join(parts))
    for inst, label, results in _instruments(analysis):
        parts.append(f"<h3>{_e(label)} <small>({_e(inst)})</small></h3>")
        for r in results:
            parts.append(f"<h4>{_e(r.score.label)}</h4>")
            parts.append(
                _groups_table(analysis.by_course[r.score.column], r.score.column, "course")
            )
        parts.append(
            _img(
                figures.groups_figure(
                    [(r, analysis.by_course[r.score.column]) for r in results],
                    "per cursusvoortgang / by course progress",
                ),
                f"Verandering per cursusvoortgang / change by course progress: {label}",
                "Nog geen kinderen met scores bij leerkrachten met cursusgegevens. / No scored "
                "children of teachers with course records yet.",
            )
        )
    return _section(title, "".join(parts))


def _response_section(analysis: Analysis) -> str:
    title = "6. Respons en voltooiing / Response and completion"
    rows = [
        [
            wave_label(analysis, r.wave),
            (analysis.wave_first.get(r.wave) or DASH)[:10],
            str(r.teachers),
            str(r.children),
            str(r.started),
            str(r.completed),
            f"{100.0 * r.completed / r.started:.0f}%" if r.started else DASH,
        ]
        for r in analysis.response
    ]
    parts = [
        _table(
            [
                "meetmoment / wave",
                "eerste antwoord / first answer",
                "leerkrachten / teachers",
                "kinderen / children",
                "vragenlijsten begonnen / questionnaires started",
                "voltooid / completed",
                "%",
            ],
            rows,
            [row_id("response", r.wave) for r in analysis.response],
        ),
        _img(
            figures.completion_figure(analysis),
            "Voltooiing per meetmoment en vragenlijst / completion per wave and instrument",
            "Nog geen begonnen vragenlijsten. / No questionnaires started yet.",
        ),
        "<h3>Antwoorden per dag / Answers per day</h3>",
        _img(
            figures.answers_per_day_figure(analysis),
            "Antwoorden per dag / answers per day",
            "Nog geen antwoorden. / No answers yet.",
        ),
    ]
    c = analysis.consent
    parts.append("<h3>Toestemming en terugtrekking / Consent and withdrawal</h3>")
    parts.append(
        _table(
            ["", "aantal / count"],
            [
                ["leerkrachten met toestemming / teachers who consented", str(c["consented"])],
                ["toestemming ingetrokken / consent withdrawn", str(c["withdrawn"])],
                ["kinderen toegevoegd / children added", str(c["children_added"])],
                [
                    "… met redenen vastgelegd / … with reasons recorded",
                    str(c["children_with_reasons"]),
                ],
                ["kinderen teruggetrokken / children withdrawn", str(c["children_withdrawn"])],
            ],
        )
    )
    parts.append(
        "<p>Wie de gegevens liet verwijderen (<code>steun withdraw</code>) telt hier niet meer "
        "mee: die statements zijn weg. / Whoever had their data deleted no longer counts here: "
        "those statements are gone.</p>"
    )
    return _section(title, "".join(parts))


def _missing_section(analysis: Analysis) -> str:
    title = "7. Ontbrekende antwoorden per item / Missing answers per item"
    if not analysis.missing:
        return _section(
            title,
            '<p class="empty">Nog geen voltooide vragenlijsten. / No completed questionnaires yet.</p>',
        )
    total_missing = sum(m.missing for m in analysis.missing)
    rows = [
        [
            m.instrument,
            m.item,
            m.label[:60],
            m.wave,
            str(m.completed),
            str(m.answered),
            str(m.hidden),
            str(m.missing),
        ]
        for m in analysis.missing
    ]
    return _section(
        title,
        f"<p>Over voltooide vragenlijsten: {total_missing} ontbrekende antwoorden op getoonde "
        "items. Verborgen door vertakking telt niet als ontbrekend (niet afgenomen). / Over "
        f"completed questionnaires: {total_missing} missing answers to items shown. Hidden by "
        "branching is not missing (not administered).</p>"
        "<details><summary>Tabel per item / table per item</summary>"
        + _table(
            [
                "vragenlijst / instrument",
                "item",
                "tekst / text",
                "meetmoment / wave",
                "voltooid / completed",
                "beantwoord / answered",
                "verborgen / hidden",
                "ontbreekt / missing",
            ],
            rows,
        )
        + "</details>",
    )


def _method_section(analysis: Analysis) -> str:
    return _section(
        "8. Methode / Method",
        "<ul>"
        "<li>Scores: met dezelfde scoringsspecificatie als <code>steun export</code> (subschalen, "
        "omgepoolde items, regel voor ontbrekende items); elk getal is na te rekenen uit "
        "<code>wide.csv</code> of <code>long.csv</code>. / Scored with the export's scoring spec; "
        "every number can be recomputed from wide.csv or long.csv.</li>"
        "<li>Een kind is één leerkracht (pseudoniem) over één kindcode. / A child is one teacher "
        "(pseudonym) about one child code.</li>"
        "<li>95%-BI: gemiddelde ± t(0,975; n−1) · SD/√n, met een exacte t-kwantiel (Abramowitz & "
        "Stegun 26.7.3/4). / 95% CI: mean ± t(0.975; n−1) · SD/√n, exact t quantile.</li>"
        "<li>d_z = gemiddeld verschil / SD van de verschillen (Cohen). / d_z = mean difference / "
        "SD of the differences.</li>"
        "<li>Dit rapport beschrijft; voor een toets met alle metingen (ook onvolledige kinderen): "
        "een mixed model, zie <code>docs/analysis/</code>. / This report describes; for a model "
        "using every measurement: docs/analysis/ (mixed models in R and Python).</li>"
        f"<li>Volgorde van de meetmomenten / wave order: {_e(' → '.join(analysis.waves) or DASH)}"
        + (
            f"; cursus na / course after {_e(analysis.design[1])}"
            if analysis.design is not None
            else ""
        )
        + ".</li></ul>",
    )


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{body}</section>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222}
img{max-width:100%;display:block;margin:.75rem 0}table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.empty{color:#666;font-style:italic}small{color:#666;font-weight:normal}
section{margin-bottom:2rem}.warning{color:#8a4b00}"""


def build_report(
    data: Dataset,
    spec: ScoringSpec | None = None,
    layout: StudyLayout | None = None,
    title: str = "Steun — rapportage / report",
) -> str:
    analysis = analyse(data, spec or ScoringSpec(), layout)
    sections = [
        _answer_section(analysis),
        _waves_section(analysis),
        _paired_section(analysis),
        _reason_section(analysis),
        _course_section(analysis),
        _response_section(analysis),
        _missing_section(analysis),
        _method_section(analysis),
    ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    unreadable = (
        f'<p class="warning">{data.unreadable} statements waren onleesbaar en zijn weggelaten. / '
        f"{data.unreadable} unreadable statements were left out.</p>"
        if data.unreadable
        else ""
    )
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{STYLE}</style>
</head><body><h1>{_e(title)}</h1>
<p>Gemaakt / generated {generated} uit / from {data.statements_read} statements.
Alleen pseudoniemen en codes / pseudonyms and codes only.</p>{unreadable}
{"".join(s for s in sections if s)}
</body></html>
"""


def write_report(
    data: Dataset,
    path: Path,
    spec: ScoringSpec | None = None,
    layout: StudyLayout | None = None,
) -> Path:
    text = build_report(data, spec, layout)
    private_file(path).write_text(text, encoding="utf-8")  # 0600: it holds research data
    return seal_mode(path)
