"""What a teacher or admin can place in a course through Deep Linking.

Each item launches ``/lti/launch`` with a ``target`` custom parameter (never a query string in the
URL: platforms refuse those), and questionnaire items carry a line item so the LMS makes a
gradebook column that AGS completion fills. Other parts may add items with :func:`add_provider`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from steun_lti.lti.adapter import ContentItem

PROVIDERS_KEY = "steun.lti_deep_link_items"


@dataclass(frozen=True)
class Offer:
    key: str  # form value
    title: str  # Dutch, shown in the course
    title_en: str
    description: str
    target: str  # custom parameter "target"
    graded: bool = True


DEFAULT_OFFERS = [
    Offer(
        "dashboard",
        "Steun: overzicht voor de leerkracht",
        "Steun: teacher's overview",
        "Kinderen kiezen onder een code en zien welke vragenlijsten klaar zijn.",
        "dashboard",
        graded=False,
    ),
    Offer(
        "wave:t1",
        "Steun: vragenlijsten meting 1 (half februari)",
        "Steun: questionnaires wave 1 (mid-February)",
        "De vragenlijsten over de gekozen kinderen, eerste meting.",
        "wave:t1",
    ),
    Offer(
        "wave:t2",
        "Steun: vragenlijsten meting 2 (half maart)",
        "Steun: questionnaires wave 2 (mid-March)",
        "De vragenlijsten over de gekozen kinderen, tweede meting, vóór de cursus.",
        "wave:t2",
    ),
    Offer(
        "wave:t3",
        "Steun: vragenlijsten meting 3 (eind juni)",
        "Steun: questionnaires wave 3 (end of June)",
        "De vragenlijsten over de gekozen kinderen, na de cursus.",
        "wave:t3",
    ),
]

Provider = Callable[[], list[Offer]]


def add_provider(app: Flask, provider: Provider) -> None:
    app.extensions.setdefault(PROVIDERS_KEY, []).append(provider)


def offers() -> list[Offer]:
    providers: list[Provider] = current_app.extensions.get(PROVIDERS_KEY, [])
    if not providers:
        return list(DEFAULT_OFFERS)
    found: list[Offer] = []
    for provider in providers:
        found.extend(provider())
    return found


def content_item(offer: Offer, launch_url: str) -> ContentItem:
    return ContentItem(
        title=offer.title,
        url=launch_url,
        custom={"target": offer.target},
        text=offer.description,
        line_item_label=offer.title if offer.graded else None,
        resource_id=offer.target if offer.graded else None,
        tag="steun-completion" if offer.graded else None,
    )
