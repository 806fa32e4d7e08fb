"""Steun analysis starter (Python): a linear mixed model per score from `steun export` files.

    python steun_analysis.py EXPORT_DIR [--waves t1,t2,t3] [--score COLUMN ...] [--out results.csv]

Reads ``wide.csv`` (one row per teacher x child x wave, with the subscale scores the export
computed with its scoring spec) and ``data_dictionary.csv`` (score columns: Field Type "calc").
Per score it fits

    score ~ wave  +  random intercept per teacher  +  random intercept per child within teacher

(statsmodels MixedLM, REML) and prints the wave effects against the first wave and the study's
contrast: the change after the course minus the change before it,
(w3 - w2) - (w2 - w1) = b_w3 - 2 * b_w2. Children with some waves missing still count (the
model uses every score there is); the report's paired figures use complete pairs only.

Needs pandas and statsmodels (``pip install pandas statsmodels``). A starting point, not the
analysis plan: add covariates, the reasons (``reasons`` column), course progress
(``course_completed``, ``course_modules_completed``) as the study's plan says.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import warnings
from pathlib import Path

import pandas as pd
import statsmodels.formula.api as smf


def score_columns(export_dir: Path) -> list[str]:
    """The score columns the export wrote (data dictionary rows of type "calc")."""
    dictionary = export_dir / "data_dictionary.csv"
    if not dictionary.exists():
        return []
    with dictionary.open(newline="", encoding="utf-8") as fh:
        return [
            row["Variable / Field Name"]
            for row in csv.DictReader(fh)
            if row["Field Type"] == "calc"
        ]


def fit_score(wide: pd.DataFrame, score: str, waves: list[str]) -> list[dict[str, object]]:
    data = wide[["pseudonym", "child_code", "wave", score]].dropna()
    data = data[data["wave"].isin(waves)].rename(columns={score: "score"})
    if data["wave"].nunique() < 2 or data["pseudonym"].nunique() < 2:
        return []
    data["child"] = data["pseudonym"] + ":" + data["child_code"].astype(str)
    data["wave"] = pd.Categorical(data["wave"], categories=waves)
    model = smf.mixedlm(
        f"score ~ C(wave, Treatment('{waves[0]}'))",
        data,
        groups="pseudonym",
        re_formula="1",
        vc_formula={"child": "0 + C(child)"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small samples: convergence and boundary notes
        fit = model.fit(reml=True)
    fe = fit.fe_params
    cov = fit.cov_params().loc[fe.index, fe.index]
    rows: list[dict[str, object]] = []

    def add(term: str, weights: dict[str, float]) -> None:
        estimate = sum(w * fe[name] for name, w in weights.items())
        variance = sum(
            wa * wb * cov.loc[a, b] for a, wa in weights.items() for b, wb in weights.items()
        )
        se = math.sqrt(variance) if variance > 0 else float("nan")
        rows.append(
            {
                "score": score,
                "term": term,
                "estimate": estimate,
                "se": se,
                "ci_low": estimate - 1.959964 * se,
                "ci_high": estimate + 1.959964 * se,
                "n_obs": int(fit.nobs),
                "n_teachers": data["pseudonym"].nunique(),
                "n_children": data["child"].nunique(),
            }
        )

    names = {w: f"C(wave, Treatment('{waves[0]}'))[T.{w}]" for w in waves[1:]}
    add("intercept", {"Intercept": 1.0})
    for wave, name in names.items():
        if name in fe.index:
            add(f"{wave} - {waves[0]}", {name: 1.0})
    if len(waves) >= 3 and names[waves[1]] in fe.index and names[waves[2]] in fe.index:
        w1, w2, w3 = waves[:3]
        add(f"({w3} - {w2}) - ({w2} - {w1})", {names[w3]: 1.0, names[w2]: -2.0})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--waves", help="the waves in order, e.g. t1,t2,t3 (default: sorted)")
    parser.add_argument("--score", action="append", help="a score column (default: all)")
    parser.add_argument("--out", type=Path, help="write the results as CSV")
    args = parser.parse_args(argv)
    wide = pd.read_csv(args.export_dir / "wide.csv", dtype={"child_code": str, "wave": str})
    waves = args.waves.split(",") if args.waves else sorted(wide["wave"].dropna().unique())
    scores = args.score or [c for c in score_columns(args.export_dir) if c in wide.columns]
    if not scores:
        print("No score columns: export with a scoring spec (steun export --spec).")
        return 1
    results = [row for score in scores for row in fit_score(wide, score, waves)]
    table = pd.DataFrame(results)
    if table.empty:
        print("Not enough data for a model (at least two waves and two teachers).")
        return 1
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(table.round(4).to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
