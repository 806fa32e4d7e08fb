"""What a teacher can do in the study, as plain functions on a database session.

Views call these and commit; every function that records a fact emits its domain event in the
same session (``steun_lti.records.events.emit``), so the fact and its learning record commit together.
The work lives in one module per concern (consent, children, attempts, overview); this module
gathers them so a view needs one import.
"""

from __future__ import annotations

from steun_lti.study.attempts import (
    DONE,
    IN_PROGRESS,
    INTERACTION_TYPES,
    NOT_STARTED,
    Progress,
    answers_of,
    check_writable,
    complete_page,
    find_attempt,
    get_attempt,
    open_attempt,
    progress,
    save_answer,
    save_page,
    submit,
    wave_done,
)
from steun_lti.study.children import (
    add_child,
    children,
    clean_reasons,
    confirm_parental_consent,
    get_child,
    has_active_child,
    update_reasons,
    withdraw_child,
)
from steun_lti.study.consent import (
    current_consent,
    give_consent,
    has_consent,
    require_consent,
    withdraw_consent,
)
from steun_lti.study.courses import (
    WaveCount,
    course_overview,
    note_participant,
)
from steun_lti.study.overview import (
    Cell,
    wave_overview,
)

__all__ = [
    "DONE",
    "INTERACTION_TYPES",
    "IN_PROGRESS",
    "NOT_STARTED",
    "Cell",
    "Progress",
    "WaveCount",
    "add_child",
    "answers_of",
    "check_writable",
    "children",
    "clean_reasons",
    "complete_page",
    "confirm_parental_consent",
    "course_overview",
    "current_consent",
    "find_attempt",
    "get_attempt",
    "get_child",
    "give_consent",
    "has_active_child",
    "has_consent",
    "note_participant",
    "open_attempt",
    "progress",
    "require_consent",
    "save_answer",
    "save_page",
    "submit",
    "update_reasons",
    "wave_done",
    "wave_overview",
    "withdraw_child",
    "withdraw_consent",
]
