"""The default pack plus two skills its shipped router has never seen, written as a user writes skills:
unit conversion and an alarm clock. ``benchmarks/learn`` measures how soon the assistant knows them.

Their example files are ``benchmarks/learn/examples/``, where the default pack's files are linked (not
copied), so that ``--skills benchmarks.learn.skills --examples benchmarks/learn/examples`` is the whole pack.
"""

from __future__ import annotations

from typing import Annotated, Literal

from assistant.runtime.skill import Resolver, Span, skill
from benchmarks.learn.alarms import ASK_TIME, add_alarm, alarms_path, clock_time
from benchmarks.learn.units import convert, find_unit, quantity_key
from skills.chat import ask, story
from skills.math import calculate
from skills.news import news
from skills.notes import notes
from skills.other import cant_do, other
from skills.run_app import run_app
from skills.timecheck import timecheck
from skills.timer import (
    timer,
    timer_add,
    timer_cancel,
    timer_change,
    timer_left,
    timer_pause,
    timer_resume,
    timer_subtract,
)
from skills.weather import weather

__all__ = [
    "alarm",
    "ask",
    "calculate",
    "cant_do",
    "convert_units",
    "news",
    "notes",
    "other",
    "run_app",
    "story",
    "timecheck",
    "timer",
    "timer_add",
    "timer_cancel",
    "timer_change",
    "timer_left",
    "timer_pause",
    "timer_resume",
    "timer_subtract",
    "weather",
]

AlarmDay = Literal[
    "today",
    "tomorrow",
    "weekdays",
    "weekend",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
]


@skill(reads_only=True)
def convert_units(
    quantity: Annotated[str, Span(), Resolver(quantity_key)],
    unit: Annotated[str, Span(), Resolver(find_unit)],
) -> str:
    """Convert an amount to another unit, like 3 miles in kilometres."""
    return convert(quantity, unit)


@skill(confirm="An alarm for {time}[ {day}]?")
def alarm(time: Annotated[str, Span(), Resolver(clock_time, ASK_TIME)], day: AlarmDay | None = None) -> str:
    """Set an alarm clock for a time of day, optionally on a day."""
    said = clock_time(time)
    if said is None:
        return f"I don't understand the time {' '.join(time.split())!r}. {ASK_TIME}"
    return add_alarm(alarms_path(), *said, day)
