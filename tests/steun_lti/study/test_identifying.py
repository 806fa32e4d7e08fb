"""The heuristic that keeps names, dates and addresses out of the note about a child."""

from __future__ import annotations

import pytest

from steun_lti.study.identifying import Found, identifying_details


def test_the_note_of_issue_17() -> None:
    assert identifying_details("Jan de Vries, geboren 03-04-2016, woont bij oma") == [
        Found("date", "03-04-2016"),
        Found("name", "Jan de Vries"),
    ]


@pytest.mark.parametrize(
    ("note", "found"),
    [
        ("Geboren op 3.4.2016.", Found("date", "3.4.2016")),
        ("Geboren 2016/04/03", Found("date", "2016/04/03")),
        ("Jarig op 3 mei, dan altijd onrustig.", Found("date", "3 mei")),
        ("Sinds april 2016 bij ons op school.", Found("date", "april 2016")),
        ("Woont op de Kerkstraat 12a.", Found("address", "Kerkstraat 12a")),
        ("Verhuisd naar de Dorpsweg 4", Found("address", "Dorpsweg 4")),
        ("Nieuw adres in 1234 AB.", Found("address", "1234 AB")),
        ("Hij woont nu bij Ayla van der Berg.", Found("name", "Ayla van der Berg")),
        ("Stil sinds de scheiding. Noah praat weinig.", Found("name", "Noah")),
        ("Woont bij oma Truus.", Found("name", "oma Truus")),
        ("Contact loopt via meneer de Jong.", Found("name", "meneer de Jong")),
        ("Het gezin woont bij Karel Appelboom.", Found("name", "Karel Appelboom")),
    ],
)
def test_names_dates_and_addresses_are_found(note: str, found: Found) -> None:
    assert identifying_details(note) == [found]


@pytest.mark.parametrize(
    "note",
    [
        "Vader is vorig jaar overleden, sindsdien stil in de klas.",
        "Ouders gescheiden. Moeder heeft ADHD, de GGD is betrokken.",
        "Melding bij Veilig Thuis gedaan, Raad voor de Kinderbescherming ook.",
        "Vader zit in de gevangenis, 2 keer per week bezoek.",
        "Moeder is ziek, 3-4 keer per week afwezig. Hij liep weg 2 keer.",
        "Kwam in 2016 uit Syrië, spreekt nog weinig Nederlands.",
        "Broertje zit in groep 3. Leerling B is zijn zus.",
        "Op het schoolplein 2 uur alleen, armoede thuis: geen ontbijt.",
    ],
)
def test_ordinary_notes_pass(note: str) -> None:
    assert identifying_details(note) == []
