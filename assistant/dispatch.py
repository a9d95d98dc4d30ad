"""Running a validated call: a timeout per skill, and errors kept inside the turn.

An argument that does not resolve (see :mod:`assistant.resolution`) gets a clarifying question
and the skill does not run. A skill runs in a worker thread under the caller's context (config,
confirm, announce). One that raises yields a short apology; one that hangs is abandoned after the timeout (a Python thread
cannot be killed, so it finishes in the background) and the assistant goes on listening.
"""

from __future__ import annotations

import contextvars
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from assistant.calls import Call
from assistant.pack import SkillPack
from assistant.resolution import unresolved

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    answer: str
    ms: float
    error: str | None = None


class Dispatcher:
    def __init__(self, pack: SkillPack, timeout_s: float = 20.0):
        self.pack = pack
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="skill")

    def run(self, call: Call) -> Outcome:
        """The skill's answer; a short question instead, when an argument does not resolve (never a wrong action)."""
        start = time.perf_counter()
        missing = unresolved(self.pack, call)
        if missing is not None:
            return Outcome(missing.question, _ms(start), f"unresolved {missing.parameter}={missing.value!r}")
        skill = self.pack.skills[call.name]
        context = contextvars.copy_context()
        future = self._pool.submit(context.run, skill.function, **call.kwargs)
        try:
            answer = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            message = f"The {call.name} skill took longer than {self.timeout_s:g} seconds, so I stopped waiting."
            return Outcome(message, _ms(start), "timeout")
        except Exception as error:  # a skill's bug must not end the loop
            log.exception("skill %s failed on %s", call.name, call)
            return Outcome(f"Sorry, the {call.name} skill failed: {error}", _ms(start), type(error).__name__)
        return Outcome("" if answer is None else str(answer), _ms(start))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
