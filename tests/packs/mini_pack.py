"""A three-skill pack for tests of the training-data tools (the real `skills` pack may change)."""

from __future__ import annotations

from typing import Literal

from assistant.runtime.skill import skill


@skill
def weather(location: str | None = None, day: Literal["today", "tomorrow"] = "today") -> str:
    """Ask for the weather somewhere, today or tomorrow."""
    return f"weather in {location or 'here'} {day}"


@skill
def timer(minutes: int, label: str | None = None) -> str:
    """Start a countdown timer."""
    return f"timer {label or ''} for {minutes} minutes"


@skill
def other() -> str:
    """Speech not addressed to the assistant."""
    return ""
