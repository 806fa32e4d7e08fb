"""The course as a typed model (Course > Module > Page > Exercise): what ``loader`` builds
from the course source and ``render``, ``manifest`` and ``build`` read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

Localised = dict[str, str]


@dataclass
class Option:
    id: str
    text: str
    correct: bool
    feedback: str


@dataclass
class Category:
    id: str
    label: str


@dataclass
class SortItem:
    id: str
    text: str
    category: str


@dataclass
class Exercise:
    """An exercise on a page, or one question of the final check (type choice/multiple)."""

    key: str  # unique in the course, a valid SCORM interaction id: "<module>.<page>" or "final.<q>"
    type: str
    prompt: str
    options: list[Option] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    items: list[SortItem] = field(default_factory=list)
    feedback: dict[str, str] = field(default_factory=dict)
    max_length: int = 1000
    model_answer: str = ""

    @property
    def scored(self) -> bool:
        return self.type != "reflection"


@dataclass
class Page:
    id: str
    type: str
    title: str
    source: Path  # module.yaml, for error messages
    line: int
    file: Path | None = None
    slot: str | None = None
    minutes: float = 0
    exercise: Exercise | None = None


@dataclass
class Module:
    id: str
    folder: Path
    title: Localised
    minutes: float
    objectives: list[str]
    pages: list[Page]


@dataclass
class FinalCheck:
    title: Localised
    pass_mark: int
    questions: list[Exercise]


@dataclass
class Course:
    root: Path
    id: str
    version: str
    language: str
    title: Localised
    description: Localised
    organisation: Localised
    modules: list[Module]
    final_check: FinalCheck | None

    @property
    def minutes(self) -> float:
        return sum(m.minutes for m in self.modules)

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    def exercises(self) -> list[Exercise]:
        """Every exercise in course order, final-check questions last."""
        found = [p.exercise for m in self.modules for p in m.pages if p.exercise is not None]
        if self.final_check is not None:
            found.extend(self.final_check.questions)
        return found
