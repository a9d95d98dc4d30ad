"""What the pack does not serve: speech not meant for the assistant, and requests no skill can do.

The two are told apart because people hear them differently: overheard talk must stay silent, while
someone who asked for an alarm or some music should hear that it cannot be done, not nothing.
"""

from __future__ import annotations

from assistant.runtime.skill import skill

CANT_DO_ANSWER = "Sorry, I can't do that yet."


@skill(reads_only=True)
def other() -> str:
    """Speech not addressed to the assistant: conversation, background noise, media."""
    return ""


@skill(reads_only=True)
def cant_do() -> str:
    """A request to the assistant that no skill can do, like an alarm, music, lights, calls or messages."""
    return CANT_DO_ANSWER
