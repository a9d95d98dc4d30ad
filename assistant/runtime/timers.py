"""The board of timers of one running assistant: named countdowns people pause, resume, change and cancel.

Each running countdown has a background alarm thread that rings it when due. Pausing, resuming,
changing or cancelling replaces (or stops) that thread, and a thread that has been replaced does
nothing when it wakes, so a change never races a ring into ringing twice or too early. Time left
is read from a clock that tests can replace, to stop time. Names match as people say them:
"the Pizza timer" is the "pizza" timer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MOST_TIMERS = 20
EVERY = "all"  # the name that means every timer
_BEFORE_NAME = {"the", "my", "a"}
_AFTER_NAME = {"timer", "timers"}
_EVERY_FIRST = {"all", "every", "everything"}
_EVERY_REST = {"the", "my", "of", "one"}


def timer_name(said: str) -> str:
    """The words that name a timer: "the Pizza timer" is "Pizza"; "" when nothing names it."""
    words = re.findall(r"[\w']+", said)
    while words and words[0].casefold() in _BEFORE_NAME | _AFTER_NAME:
        words = words[1:]
    while words and words[-1].casefold() in _AFTER_NAME:
        words = words[:-1]
    return " ".join(words)


def name_key(said: str) -> str:
    """What two names must share to name the same timer (case and the words around the name aside);
    "all", "every", "all of my" are :data:`EVERY`."""
    words = timer_name(said).casefold().split()
    if words and words[0] in _EVERY_FIRST and set(words[1:]) <= _EVERY_REST:
        return EVERY
    return " ".join(words)


class BoardFull(Exception):
    """The board already holds its most timers."""


class NameTaken(Exception):
    """Another timer has that name; ``timer`` is that one."""

    def __init__(self, timer: Countdown):
        super().__init__(timer.name)
        self.timer = timer


@dataclass(eq=False)
class Countdown:
    """One timer: its name, the duration it was last set to, and when it rings (or what was left when paused)."""

    name: str | None  # as said, without "the" and "timer"; None for a timer nobody named
    set_s: float  # the duration of the last start or change: an unnamed timer is called by it
    unit_s: float  # the largest unit said when it was set: what a bare "ten" counts in
    done: Callable[[Countdown], None]
    ends_at: float | None = None  # clock time it rings, while running
    paused_left: float = 0.0  # seconds left, while paused
    alarm: threading.Timer | None = field(default=None, repr=False)

    @property
    def paused(self) -> bool:
        return self.ends_at is None


class TimerBoard:
    """Thread-safe countdowns, the one touched last at the end (what "the timer" means when there are several)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, most: int = MOST_TIMERS):
        self._clock = clock
        self._most = most
        self._timers: list[Countdown] = []
        self._ringing = 0
        self._changed = threading.Condition()

    def start(self, seconds: float, name: str | None, unit_s: float, done: Callable[[Countdown], None]) -> Countdown:
        """Start a countdown that calls ``done`` when due; raise BoardFull or NameTaken instead."""
        with self._changed:
            if len(self._timers) >= self._most:
                raise BoardFull(f"the board holds at most {self._most} timers")
            if name and (same := self._named(name)) is not None:
                raise NameTaken(same)
            timer = Countdown(name or None, seconds, unit_s, done)
            self._timers.append(timer)
            self._run(timer, seconds)
            return timer

    def find(self, name: str | None = None, paused: bool | None = None) -> Countdown | None:
        """The timer called ``name``; without a name, the one touched last, preferring those ``paused`` (or not)."""
        with self._changed:
            if name and name_key(name):
                return self._named(name)
            preferred = [timer for timer in self._timers if paused is None or timer.paused == paused]
            candidates = preferred or self._timers
            return candidates[-1] if candidates else None

    def timers(self) -> list[Countdown]:
        """Every timer, the one touched last at the end."""
        with self._changed:
            return list(self._timers)

    def left(self, timer: Countdown) -> float:
        """Seconds until ``timer`` rings (not counting while paused)."""
        with self._changed:
            return timer.paused_left if timer.ends_at is None else max(0.0, timer.ends_at - self._clock())

    def pause(self, timer: Countdown) -> float | None:
        """Stop the clock of ``timer``; the seconds left, or None when it has rung or was cancelled meanwhile."""
        with self._changed:
            if not self._touch(timer):
                return None
            if timer.ends_at is not None:
                timer.paused_left = max(0.0, timer.ends_at - self._clock())
                self._stop(timer)
            return timer.paused_left

    def resume(self, timer: Countdown) -> float | None:
        """Restart the clock of a paused ``timer``; the seconds left, or None when it is gone."""
        with self._changed:
            if not self._touch(timer):
                return None
            if timer.ends_at is None:
                self._run(timer, timer.paused_left)
            return self.left(timer)

    def set_left(
        self, timer: Countdown, seconds: float, set_s: float | None = None, unit_s: float | None = None
    ) -> bool:
        """Give ``timer`` ``seconds`` left (a paused one stays paused), and a new set duration and unit
        when it is changed rather than added to; False when it is gone."""
        with self._changed:
            if not self._touch(timer):
                return False
            timer.set_s = timer.set_s if set_s is None else set_s
            timer.unit_s = timer.unit_s if unit_s is None else unit_s
            if timer.ends_at is None:
                timer.paused_left = seconds
            else:
                self._run(timer, seconds)
            return True

    def cancel(self, timer: Countdown) -> bool:
        """Remove ``timer`` without ringing it; False when it had already gone."""
        with self._changed:
            if timer not in self._timers:
                return False
            self._timers.remove(timer)
            self._stop(timer)
            return True

    def waiting(self) -> tuple[int, int]:
        """How many timers will still ring by themselves (running or ringing now), and how many are paused."""
        with self._changed:
            paused = sum(timer.paused for timer in self._timers)
            return len(self._timers) - paused + self._ringing, paused

    def wait(self) -> None:
        """Block until no timer is running or ringing: paused ones would never ring, so they do not count."""
        with self._changed:
            self._changed.wait_for(lambda: self.waiting()[0] == 0)

    def _named(self, name: str) -> Countdown | None:
        key = name_key(name)
        return next((timer for timer in self._timers if timer.name and name_key(timer.name) == key), None)

    def _touch(self, timer: Countdown) -> bool:
        """Move ``timer`` to the end (touched last); False when it is no longer on the board."""
        if timer not in self._timers:
            return False
        self._timers.remove(timer)
        self._timers.append(timer)
        return True

    def _run(self, timer: Countdown, seconds: float) -> None:
        """(Re)start the alarm of ``timer`` for ``seconds`` from now; the caller holds the lock."""
        if timer.alarm is not None:
            timer.alarm.cancel()
        timer.ends_at = self._clock() + seconds
        timer.alarm = threading.Timer(seconds, self._due, args=(timer,))
        timer.alarm.daemon = True
        timer.alarm.start()
        self._changed.notify_all()

    def _stop(self, timer: Countdown) -> None:
        """Stop the alarm of ``timer`` (paused or cancelled); the caller holds the lock."""
        if timer.alarm is not None:
            timer.alarm.cancel()
        timer.alarm, timer.ends_at = None, None
        self._changed.notify_all()

    def _due(self, timer: Countdown) -> None:
        """Ring ``timer`` from its alarm thread, unless that alarm was replaced or stopped meanwhile."""
        with self._changed:
            if timer.alarm is not threading.current_thread():  # replaced, stopped or cancelled meanwhile
                return
            self._timers.remove(timer)
            timer.alarm, timer.ends_at, timer.paused_left = None, None, 0.0
            self._ringing += 1
        try:
            timer.done(timer)
        except Exception as error:  # an announcement that fails must not take the alarm thread's error further
            log.warning("announcing timer %s failed: %s", timer.name or timer.set_s, error)
            log.debug("announcing timer %s failed", timer.name or timer.set_s, exc_info=True)
        finally:
            with self._changed:
                self._ringing -= 1
                self._changed.notify_all()
