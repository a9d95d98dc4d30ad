"""The time here and elsewhere, offline, at a fixed instant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skills.timecheck import time_in, timecheck

# Monday 15 January 2024, 06:05 UTC.
NOW = datetime(2024, 1, 15, 6, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("location", "answer"),
    [
        ("Tokyo", "It's 3:05 PM in Tokyo."),
        ("tokyo", "It's 3:05 PM in Tokyo."),
        ("  TOKYO? ", "It's 3:05 PM in Tokyo."),
        ("Japan", "It's 3:05 PM in Japan."),
        ("india", "It's 11:35 AM in India."),
        ("the united states", "It's 1:05 AM in the United States."),
        ("UK", "It's 6:05 AM in the United Kingdom."),
        ("London", "It's 6:05 AM in London."),
        ("Sydney", "It's 5:05 PM in Sydney."),
        ("new york", "It's 1:05 AM in New York."),
        ("California", "It's 10:05 PM in California."),
        ("Bombay", "It's 11:35 AM in Mumbai."),
        ("Reykjavik", "It's 6:05 AM in Reykjavík."),
        ("UTC", "It's 6:05 AM in UTC."),
        ("CET", "It's 7:05 AM in Central European Time."),
        ("pacific time", "It's 10:05 PM in Pacific Time."),
        ("LA", "It's 10:05 PM in Los Angeles."),
    ],
)
def test_time_somewhere(location: str, answer: str) -> None:
    assert time_in(location, NOW) == answer


def test_noon_and_midnight() -> None:
    assert time_in("London", datetime(2024, 1, 15, 12, 0, tzinfo=UTC)) == "It's 12:00 PM in London."
    assert time_in("London", datetime(2024, 1, 15, 0, 9, tzinfo=UTC)) == "It's 12:09 AM in London."


def test_local_time() -> None:
    local = NOW.astimezone()
    hour = local.hour % 12 or 12
    expected = f"It's {hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}."
    assert time_in(None, NOW) == expected
    assert time_in("  ", NOW) == expected


def test_unknown_place() -> None:
    assert time_in("Narnia", NOW) == "I don't know where Narnia is."


def test_skill_uses_the_real_clock() -> None:
    assert timecheck("Tokyo").endswith(" in Tokyo.")
    assert timecheck().startswith("It's ")
