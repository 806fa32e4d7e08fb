"""The analysis starters in docs/analysis/ run on an export of demo-like data, and their mixed
models agree with the report: with every child at every wave, the model's contrast
(t3 − t2) − (t2 − t1) is the mean per-child difference in change the report shows."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.xapi.demo_like import BASE, SPEC, statements
from xapi.export import ScoringSpec, collect, export_all
from xapi.report import analyse

ROOT = Path(__file__).resolve().parents[2]
DID = "(t3 - t2) - (t2 - t1)"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    out = tmp_path_factory.mktemp("export")
    data = collect(statements(), BASE)
    spec = ScoringSpec.from_dict(SPEC)
    export_all(data, spec, out, ("long", "wide", "dictionary"))
    did = {r.score.column: r.did.mean for r in analyse(data, spec).scores if r.did is not None}
    return out, {k: v for k, v in did.items() if v is not None}


def _results(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {(r["score"], r["term"]): r for r in csv.DictReader(fh)}


def _check(results: dict[tuple[str, str], dict[str, Any]], did: dict[str, float]) -> None:
    assert set(did) == {"demo_rel_closeness", "demo_rel_conflict"}
    for column, mean in did.items():
        row = results[(column, DID)]
        assert float(row["estimate"]) == pytest.approx(mean, abs=1e-3)
        assert float(row["se"]) > 0
        assert (row["n_obs"], row["n_teachers"], row["n_children"]) == ("72", "8", "24")
    assert float(results[("demo_rel_closeness", DID)]["ci_low"]) > 0


@pytest.mark.slow
def test_python_starter_fits_mixed_models(
    export: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    pytest.importorskip("statsmodels", reason="statsmodels is a dev dependency (pyproject.toml)")
    out, did = export
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs/analysis/steun_analysis.py"), str(out),
         "--waves", "t1,t2,t3", "--out", str(tmp_path / "py.csv")],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert DID in result.stdout
    _check(_results(tmp_path / "py.csv"), did)


def _r_with_lme4() -> str | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    probe = subprocess.run(
        [rscript, "-e", "library(lme4)"], capture_output=True, timeout=120, check=False
    )
    return rscript if probe.returncode == 0 else None


@pytest.mark.slow
def test_r_starter_fits_mixed_models(export: tuple[Path, dict[str, float]], tmp_path: Path) -> None:
    rscript = _r_with_lme4()
    if rscript is None:
        pytest.skip("Rscript with lme4 not installed (Debian: r-base-core r-cran-lme4; make test)")
    out, did = export
    result = subprocess.run(
        [rscript, str(ROOT / "docs/analysis/steun_analysis.R"), str(out), "t1,t2,t3",
         str(tmp_path / "r.csv")],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _check(_results(tmp_path / "r.csv"), did)


def test_python_starter_says_what_is_missing(tmp_path: Path) -> None:
    pytest.importorskip("statsmodels", reason="statsmodels is a dev dependency (pyproject.toml)")
    export_all(collect(statements(teachers=1), BASE), ScoringSpec(), tmp_path, ("wide",))
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs/analysis/steun_analysis.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "steun export --spec" in result.stdout
