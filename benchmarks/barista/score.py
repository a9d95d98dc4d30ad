"""Scored as the Picovoice benchmark's ``src/engine.py`` scores an engine.

A recording counts when the intent is right and every labelled slot has its labelled value, both
``strip()``-ed; slots the engine adds are not penalised. The engine's answer here is the router's
first order: its skill is the intent and its arguments the slots (``other()`` or no call is no
answer, which is wrong). Whether the recogniser heard every labelled slot phrase (after Whisper's
English normaliser, so "12" and "twelve" agree) says whose error a wrong answer is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.routing.calls import Call

INTENT = "orderDrink"


@dataclass(frozen=True)
class Label:
    intent: str
    slots: dict[str, str]

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Label:
        """One entry of the benchmark's label.json; its values may carry the leading space it strips."""
        return cls(str(entry["intent"]), {str(name): str(value) for name, value in entry["slots"].items()})


def inference(calls: Sequence[Call]) -> dict[str, Any] | None:
    """The engine's answer as engine.py reads it: the first order's skill and arguments; None without one."""
    order = next((call for call in calls if call.name == INTENT), None)
    if order is None:
        return None
    return {"intent": order.name, "slots": {name: str(value) for name, value in order.args}}


def accepted(label: Label, answer: Mapping[str, Any] | None) -> bool:
    """engine.py's rule: the intent right and every labelled slot equal after strip(); extra slots are free."""
    if answer is None or answer["intent"] != label.intent:
        return False
    slots = answer["slots"]
    return all(name in slots and slots[name].strip() == value.strip() for name, value in label.slots.items())


def heard_every_slot(label: Label, transcript: str, normalize: Callable[[str], str]) -> bool:
    """Every labelled slot phrase is words of the transcript, both normalised alike."""
    heard = f" {normalize(transcript)} "
    return all(f" {normalize(value.strip())} " in heard for value in label.slots.values())


def share(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Accepted count of scored rows, how many of the misses the recogniser caused, and how many the pack's
    own sentences answered (the instant path) rather than the router."""
    rows = list(rows)
    errors = [row for row in rows if not row["accepted"]]
    missed_by_ear = sum(1 for row in errors if not row["heard"])
    return {
        "n": len(rows),
        "accepted": len(rows) - len(errors),
        "errors": len(errors),
        "recogniser_errors": missed_by_ear,
        "instant": sum(1 for row in rows if row.get("path") == "instant"),
    }
