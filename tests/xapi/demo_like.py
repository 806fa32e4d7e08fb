"""Demo-like statements for the report and the analysis starters: teachers who consent, add
children with reasons, answer a two-subscale instrument at three waves (mid-February, mid-March,
end of June), and partly follow the course. Deterministic (seeded)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from xapi.statements import Choice, ItemDefinition, StatementFactory

BASE = "https://steun.example.nl"
F = StatementFactory(BASE)
LIKERT = ItemDefinition("likert", None, tuple(Choice(str(v), str(v)) for v in range(1, 6)))
WAVES = {
    "t1": datetime(2027, 2, 15, 9, tzinfo=UTC),
    "t2": datetime(2027, 3, 15, 9, tzinfo=UTC),
    "t3": datetime(2027, 6, 28, 9, tzinfo=UTC),
}
REASONS = ["home_tension", "neglect", "loss", "poverty", "behaviour"]
SPEC: dict[str, Any] = {
    "instruments": [
        {
            "id": "demo-rel",
            "version": "1",
            "label": "Relatie",
            "items": [
                {"id": f"r{i}", "label": f"Item {i}", "choices": [[v, str(v)] for v in range(1, 6)]}
                for i in range(1, 7)
            ],
            "scales": [
                {"id": "closeness", "label": "Nabijheid", "items": ["r1", "r2", "r3"],
                 "method": "mean"},
                {"id": "conflict", "label": "Conflict", "items": ["r4", "r5", "r6"],
                 "method": "sum", "reverse": ["r6"], "max_missing": 1, "prorate": True},
            ],
        }
    ]
}  # fmt: skip


def statements(teachers: int = 8, children: int = 3, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for t in range(teachers):
        p = f"p-{t:02d}"
        start = WAVES["t1"] - timedelta(days=3)
        out.append(F.consent(p, start, study="steun", given=True, consent_version="1"))
        teacher_effect = rng.gauss(0, 0.5)
        for c in range(children):
            code = "ABCDEFGH"[c]
            reasons = rng.sample(REASONS, k=rng.choice([1, 2]))
            out.append(
                F.child(p, start, study="steun", child_code=code, added=True, reasons=reasons)
            )
            level = 3 + teacher_effect + rng.gauss(0, 0.5)
            for w_index, (wave, when) in enumerate(WAVES.items()):
                # no change t1→t2; closeness rises after the course (t3)
                shift = 0.8 if w_index == 2 else 0.0
                at = when + timedelta(days=t % 5, minutes=10 * c)
                for i in range(1, 7):
                    if (t, c, wave, i) == (1, 1, "t2", 5):
                        continue  # one missing answer
                    base = level + shift if i <= 3 else 6 - level - shift
                    value = max(1, min(5, round(rng.gauss(base, 0.6))))
                    out.append(
                        F.item_answered(
                            p, at + timedelta(seconds=i), study="steun", wave=wave,
                            instrument="demo-rel", instrument_version="1", item=f"r{i}",
                            response=value, child_code=code, attempt=1, definition=LIKERT,
                        )
                    )  # fmt: skip
                out.append(
                    F.questionnaire_completed(
                        p, at + timedelta(minutes=5), study="steun", wave=wave,
                        instrument="demo-rel", instrument_version="1", child_code=code, attempt=1,
                    )
                )  # fmt: skip
        if t % 2 == 0:  # half the teachers follow the course, some complete it
            at = WAVES["t2"] + timedelta(days=20)
            key = {"provenance": "package-key:k1"}
            out.append(F.course_event(p, at, course="steun", event="module_started", module="m1", **key))  # fmt: skip
            out.append(F.course_event(p, at, course="steun", event="module_completed", module="m1", duration="PT20M", **key))  # fmt: skip
            if t % 4 == 0:
                out.append(F.course_event(p, at + timedelta(hours=1), course="steun", event="course_completed", duration="PT2H", **key))  # fmt: skip
    out.reverse()
    return out
