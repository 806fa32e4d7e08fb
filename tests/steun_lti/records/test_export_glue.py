"""The exporter, given the spec built from the instrument definitions, scores as the tool does."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from steun_lti.questionnaires.branching import visible_answers
from steun_lti.questionnaires.registry import load_registry
from steun_lti.questionnaires.scoring import score
from steun_lti.records.export_spec import instrument_spec, scoring_spec_from_registry
from xapi.export.spec import score_scale, score_total, visible

REGISTRY = load_registry()


@pytest.mark.parametrize("instrument_id", sorted(REGISTRY.instruments))
def test_export_scores_equal_the_tools_scores(instrument_id: str) -> None:
    instrument = REGISTRY.get(instrument_id)
    spec = instrument_spec(instrument)
    rng = random.Random(instrument_id)
    for _ in range(300):
        answers: dict[str, Any] = {}
        for item in instrument.items:
            if item.options and rng.random() > 0.08:
                answers[item.id] = rng.choice(item.options).value
        answers = visible_answers(instrument, answers)
        expected = score(instrument, answers)
        numeric = {
            i.id: float(answers[i.id])
            if i.numeric and isinstance(answers.get(i.id), int | float)
            else None
            for i in spec.items
        }
        ours: dict[str, float | None] = {s.id: score_scale(s, spec, numeric) for s in spec.scales}
        for total in spec.totals:
            ours[total.id] = score_total(total, spec, ours)
        assert ours == expected


@pytest.mark.parametrize("instrument_id", sorted(REGISTRY.instruments))
def test_export_ignores_answers_of_hidden_items_as_the_tool_does(instrument_id: str) -> None:
    """Answers to items that branching hides (kept from before a change) are fed to both: the
    tool's scoring and the export's (through the conditions in the spec) drop them alike."""
    instrument = REGISTRY.get(instrument_id)
    spec = instrument_spec(instrument)
    rng = random.Random("hidden " + instrument_id)
    for _ in range(300):
        answers: dict[str, Any] = {
            item.id: rng.choice(item.options).value
            for item in instrument.items
            if item.options and rng.random() > 0.08
        }
        responses = {k: str(v) for k, v in answers.items()}
        shown = visible(spec, responses)
        assert set(shown) == set(visible_answers(instrument, answers))
        numeric = {
            i.id: float(shown[i.id]) if i.numeric and i.id in shown else None for i in spec.items
        }
        ours: dict[str, float | None] = {s.id: score_scale(s, spec, numeric) for s in spec.scales}
        for total in spec.totals:
            ours[total.id] = score_total(total, spec, ours)
        assert ours == score(instrument, answers)


def test_cli_export_uses_the_instrument_definitions(tmp_path: Path, settings: Any) -> None:
    from click.testing import CliRunner

    from steun_lti.cli import main

    source = tmp_path / "none.jsonl"
    source.write_text("")
    out = CliRunner().invoke(
        main,
        ["export", str(tmp_path / "out"), "--from-file", str(source), "--format", "codebook"],
        obj={"settings": settings},
    )
    assert out.exit_code == 0, out.output
    codebook = (tmp_path / "out" / "codebook.md").read_text()
    spec = scoring_spec_from_registry(REGISTRY)
    for inst in spec.instruments:
        for scale in inst.scales:
            assert f"`{inst.id.replace('-', '_')}_{scale.id}`" in codebook
    # The reasons column is explained with the study's own labels, not only its ids.
    assert "neglect = Signalen van verwaarlozing / Signs of neglect" in codebook
    dictionary_out = CliRunner().invoke(
        main,
        ["export", str(tmp_path / "dd"), "--from-file", str(source), "--format", "dictionary"],
        obj={"settings": settings},
    )
    assert dictionary_out.exit_code == 0, dictionary_out.output
    assert (
        "poverty = Armoede of geldzorgen thuis"
        in (tmp_path / "dd" / "data_dictionary.csv").read_text()
    )
