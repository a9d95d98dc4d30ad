"""Alarm clock times as people say them ("7", "seven thirty", "6:45 am", "half past six", "noon"), and the
alarms kept in a private SQLite file of the user's data folder, each committed before the answer is given.

The file is opened as the notes are (:mod:`assistant.runtime.user_database`): created 0600 in a 0700 folder,
complete when it appears, marked with :data:`APPLICATION_ID`, and any other file at that path (a symbolic
link, another user's or program's file) is refused untouched. The alarms are kept, not yet rung: ringing
them needs a clock that outlives the assistant's process, which this benchmark pack does not build.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import platformdirs

from assistant.runtime.spoken_numbers import spoken_number
from assistant.runtime.user_database import NotOurs, open_user_database

APPLICATION_ID = int.from_bytes(b"VXRA", "big")  # SQLite's header field for the program that made the file
SCHEMA = (
    "CREATE TABLE alarms (id INTEGER PRIMARY KEY, hour INTEGER NOT NULL, minute INTEGER NOT NULL, day TEXT, "
    "created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
)
MOST_ALARMS = 50  # kept at once; more is a misheard loop, not an alarm clock
ASK_TIME = "For what time? Say something like seven thirty or 6:45 am."

_MERIDIEMS = {
    ("am",): "am",
    ("pm",): "pm",
    ("in", "the", "morning"): "am",
    ("in", "the", "afternoon"): "pm",
    ("in", "the", "evening"): "pm",
    ("at", "night"): "pm",
    ("tonight",): "pm",
}
_NAMED = {"noon": (12, 0), "midday": (12, 0), "midnight": (0, 0)}
_PARTS = {"half": 30, "quarter": 15}


def clock_time(said: str) -> tuple[int, int] | None:
    """The hour (0-23) and minute of a time as said: "7", "seven thirty", "7:05", "6.45 pm", "0730", "seven oh
    five", "half past six", "quarter to eight", "ten past nine", "half six", "noon", "8 in the evening";
    None when the words are not one time of day. A bare hour is read on a 24-hour clock ("7" is 7:00)."""
    words = _words(said)
    meridiem = None
    for ending, which in _MERIDIEMS.items():
        if tuple(words[-len(ending) :]) == ending and len(words) > len(ending):
            words, meridiem = words[: -len(ending)], which
            break
    if words[:1] == ["at"]:
        words = words[1:]
    if len(words) == 1 and words[0] in _NAMED:
        return _NAMED[words[0]] if meridiem is None else None
    read = _relative(words) or _hour_minute(words)
    if read is None:
        return None
    hour, minute = read
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    return hour, minute


def _words(said: str) -> list[str]:
    """Lower-case words, "a.m." as "am", "o'clock" left out, digits apart ("6:45" is "6 45", "7pm" "7 pm")."""
    text = said.casefold().replace("-", " ")
    text = re.sub(r"(?<=\d)[:.](?=\d\d\b)", " ", text)
    text = re.sub(r"\b(\d{1,2})(\d\d)\b", r"\1 \2", text)  # "0730", "1945"
    text = re.sub(r"(?<=\d)(?=[a-z])", " ", text)
    text = re.sub(r"\b([ap])\.?\s?m\b\.?", r"\1m", text)
    text = re.sub(r"\bo'?\s?clock\b", " ", text)
    return re.findall(r"\d+|[a-z]+", text)


def _relative(words: list[str]) -> tuple[int, int] | None:
    """ "half past six", "a quarter to eight", "ten minutes past nine", "twenty five to seven", "half six"."""
    if len(words) == 2 and words[0] == "half":  # British "half six" is 6:30
        hour = _number(words[1:], 1, 12)
        return None if hour is None else (hour, 30)
    for at, word in enumerate(words):
        if word not in ("past", "after", "to", "before", "till"):
            continue
        before = [w for w in words[:at] if w not in ("a", "minutes", "minute")]
        minutes = _PARTS.get(before[0]) if len(before) == 1 and before[0] in _PARTS else _number(before, 1, 59)
        after = words[at + 1 :]
        hour = _NAMED[after[0]][0] if len(after) == 1 and after[0] in _NAMED else _number(after, 0, 23)
        if minutes is None or hour is None:
            return None
        if word in ("past", "after"):
            return hour, minutes
        return (hour - 1) % 24, 60 - minutes
    return None


def _hour_minute(words: list[str]) -> tuple[int, int] | None:
    """ "7", "seven thirty", "seven oh five", "7 05", "twenty one fifteen", "19 hundred": the longest hour first."""
    for split in range(len(words), 0, -1):
        hour = _number(words[:split], 0, 23)
        if hour is None:
            continue
        rest = words[split:]
        if rest in ([], ["hundred"], ["hundred", "hours"], ["hours"]):
            return hour, 0
        if rest[:1] in (["oh"], ["o"]) and len(rest) == 2:
            minute = _number(rest[1:], 0, 9)
        else:
            minute = _number(rest, 0, 59) if not (len(rest) == 1 and rest[0].isdigit() and len(rest[0]) != 2) else None
        if minute is not None:
            return hour, minute
    return None


def _number(words: list[str], low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high`` said in ``words``; None otherwise."""
    value = spoken_number(" ".join(words)) if words else None
    if value is None or value.denominator != 1 or not low <= value <= high:
        return None
    return int(value)


def say_time(hour: int, minute: int) -> str:
    return f"{hour}:{minute:02d}"


def say_day(day: str | None) -> str:
    """How an answer says the day: " tomorrow", " on Friday", " on weekdays", "" for the next time it comes."""
    if day is None:
        return ""
    if day in ("today", "tomorrow"):
        return f" {day}"
    return {"weekend": " at weekends", "weekdays": " on weekdays"}.get(day, f" on {day.capitalize()}")


def alarms_path() -> Path:
    """alarms.sqlite3 in the user data folder, beside the notes."""
    return Path(platformdirs.user_data_dir("voxroute")) / "alarms.sqlite3"


def add_alarm(path: Path, hour: int, minute: int, day: str | None) -> str:
    """Keep the alarm in the file at ``path``; the answer, or why it was not kept."""
    when = f"{say_time(hour, minute)}{say_day(day)}"
    try:
        with closing(open_user_database(path, APPLICATION_ID, SCHEMA, "alarms")) as database, database:
            if database.execute(
                "SELECT 1 FROM alarms WHERE hour = ? AND minute = ? AND day IS ?", (hour, minute, day)
            ).fetchone():
                return f"You already have an alarm for {when}."
            (count,) = database.execute("SELECT count(*) FROM alarms").fetchone()
            if count >= MOST_ALARMS:
                return f"You already have {MOST_ALARMS} alarms, the most I keep."
            database.execute("INSERT INTO alarms (hour, minute, day) VALUES (?, ?, ?)", (hour, minute, day))
    except NotOurs as error:
        return f"I won't use the alarms file {path}: {error}."
    except (sqlite3.Error, OSError) as error:
        return f"I can't use the alarms file {path}: {error}."
    return f"Alarm set for {when}."
