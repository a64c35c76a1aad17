"""PatientProfile.group: the one place age bands are decided."""

import pytest

from chatbot.types import PatientProfile


@pytest.mark.parametrize(
    ("age", "group"),
    [
        (None, None),
        (0, "infant"),
        (1, "child"),
        (12, "child"),
        (13, "teen"),
        (17, "teen"),
        (18, "adult"),
        (64, "adult"),
        (65, "older_adult"),
    ],
)
def test_group_from_age(age: int | None, group: str | None) -> None:
    assert PatientProfile(age=age).group == group


def test_stated_group_wins_over_age() -> None:
    # A parent who picked "child" for a 13-year-old keeps the child's wording.
    assert PatientProfile(age=13, age_group="child").group == "child"
    assert PatientProfile(age_group="older_adult").group == "older_adult"
