"""The study definition: windows in Europe/Amsterdam, instruments per wave, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from steun_lti.questionnaires import InstrumentError, load_registry
from steun_lti.study.definition import (
    CLOSED,
    LATE,
    OPEN,
    UPCOMING,
    bundled_study_path,
    format_when,
    load_study,
)
from steun_lti.study.models import child_code
from tests.steun_lti.study.conftest import write_study


def test_the_demo_study_has_every_wave_open_now() -> None:
    study = load_study(bundled_study_path(), load_registry())
    now = datetime.now(UTC)
    assert [w.id for w in study.waves] == ["t1", "t2", "t3"]
    assert all(w.state(now) == OPEN for w in study.waves)
    assert study.child_form and study.waves[0].child_instruments == ("demo-child",)
    assert study.consent_version == "demo-2026-1"


def test_the_example_study_follows_the_school_year() -> None:
    path = Path(str(resources.files("steun_lti.study").joinpath("example_study.yaml")))
    study = load_study(path, load_registry())
    t1, _t2, t3 = study.waves
    # 07:00 in Amsterdam is 06:00 UTC in winter and 05:00 UTC in summer
    assert t1.opens.astimezone(UTC) == datetime(2027, 2, 8, 6, 0, tzinfo=UTC)
    assert t3.opens.astimezone(UTC) == datetime(2027, 6, 21, 5, 0, tzinfo=UTC)
    assert t1.state(datetime(2027, 2, 8, 5, 59, tzinfo=UTC)) == UPCOMING
    assert t1.state(datetime(2027, 2, 8, 6, 0, tzinfo=UTC)) == OPEN
    assert t1.state(datetime(2027, 3, 1, tzinfo=UTC)) == CLOSED
    assert t3.state(datetime(2027, 7, 12, tzinfo=UTC)) == LATE
    assert t3.state(datetime(2027, 7, 17, tzinfo=UTC)) == CLOSED
    assert study.current_wave(datetime(2027, 3, 1, tzinfo=UTC)).id == "t2"
    assert study.current_wave(datetime(2027, 3, 10, tzinfo=UTC)).id == "t2"
    assert study.current_wave(datetime(2028, 1, 1, tzinfo=UTC)).id == "t3"
    assert format_when(t1.opens, study.timezone, "nl") == "ma 8 februari 2027, 07:00"
    assert format_when(t1.opens, study.timezone, "en") == "Mon 8 February 2027, 07:00"


WAVE = '  - {{id: t1, title: {{nl: Een}}, opens: "{opens}", closes: "{closes}", instruments: [{instrument}]}}'


@pytest.mark.parametrize(
    ("waves", "reason"),
    [
        (
            WAVE.format(
                opens="2027-02-08T07:00", closes="2027-02-01T07:00", instrument="demo-strengths"
            ),
            "closes before it opens",
        ),
        (
            WAVE.format(opens="2027-02-08T07:00", closes="2027-02-10T07:00", instrument="nope"),
            "unknown instrument 'nope'",
        ),
        (
            WAVE.format(
                opens="2027-02-08T07:00", closes="2027-02-10T07:00", instrument="demo-child"
            ),
            "not a teacher questionnaire",
        ),
        (
            WAVE.format(opens="8 februari", closes="2027-02-10T07:00", instrument="demo-strengths"),
            "waves/0/opens",
        ),
        (
            WAVE.format(
                opens="2027-02-08T07:00", closes="2027-02-10T07:00", instrument="demo-strengths"
            )
            + "\n"
            + WAVE.format(
                opens="2027-02-08T07:00", closes="2027-02-10T07:00", instrument="demo-strengths"
            ),
            "defined twice",
        ),
    ],
)
def test_a_bad_study_is_refused_with_the_reason(tmp_path: Path, waves: str, reason: str) -> None:
    path = write_study(tmp_path, waves)
    with pytest.raises(InstrumentError) as caught:
        load_study(path, load_registry())
    assert reason in caught.value.message and str(path) in caught.value.message


def test_date_times_written_without_quotes_are_read_as_local_times(tmp_path: Path) -> None:
    path = write_study(
        tmp_path,
        "  - {id: t1, title: {nl: Een}, opens: 2027-02-08 07:00:00, closes: 2027-02-10 07:00:00, instruments: [demo-strengths]}",
    )
    study = load_study(path, load_registry())
    assert study.waves[0].opens.astimezone(UTC) == datetime(2027, 2, 8, 6, 0, tzinfo=UTC)


def test_child_codes_run_a_to_z_then_aa() -> None:
    assert [child_code(n) for n in (1, 2, 26, 27, 28, 52)] == ["A", "B", "Z", "AA", "AB", "AZ"]
