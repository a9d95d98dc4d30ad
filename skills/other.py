"""Speech that was not meant for the assistant: it is heard, and deliberately ignored."""

from __future__ import annotations

from assistant.runtime.skill import skill


@skill(reads_only=True)
def other() -> str:
    """Speech not addressed to the assistant: conversation, background noise, media."""
    return ""
