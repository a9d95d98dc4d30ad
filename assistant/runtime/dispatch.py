"""Running a validated call: a time limit per skill, and errors kept inside the turn.

An argument that does not resolve (see :mod:`assistant.runtime.resolution`) gets a clarifying question
and the skill does not run. An ``isolated`` skill runs in a child process that is killed at the
time limit, so nothing it computes can hold the assistant. Any other skill runs in a worker thread
under the caller's context (config, confirm, announce); one that hangs is abandoned at the time
limit (a thread cannot be killed, so it finishes in the background, as a daemon thread that does
not keep the process alive). One that raises yields a short apology; the assistant goes on
listening in every case.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from assistant.routing.calls import Call
from assistant.runtime.isolation import ChildFailed, TimeLimitExceeded, run_in_process
from assistant.runtime.pack import SkillPack
from assistant.runtime.resolution import unresolved
from assistant.timing import elapsed_ms

log = logging.getLogger(__name__)

MAX_SKILL_THREADS = 4  # skills running at once, abandoned ones included; a call waits for one within its time limit
_thread_numbers = itertools.count()


@dataclass(frozen=True)
class Outcome:
    answer: str
    ms: float
    error: str | None = None
    failed: bool = False  # the skill raised or ran out of time (a clarifying question is not a failure)


class Dispatcher:
    def __init__(self, pack: SkillPack, timeout_s: float = 20.0):
        self.pack = pack
        self.timeout_s = timeout_s
        self._threads = threading.BoundedSemaphore(MAX_SKILL_THREADS)

    def run(self, call: Call) -> Outcome:
        """The skill's answer; a short question instead, when an argument does not resolve (never a wrong action)."""
        start = time.perf_counter()
        skill = self.pack.skills.get(call.name)
        if skill is None:  # a call from outside the pack (an endpoint, a stale adapter): never a KeyError
            return Outcome("", elapsed_ms(start), f"no skill {call.name!r} in this pack", failed=True)
        try:
            missing = unresolved(self.pack, call)  # a resolver is the skill's own code, and may fail like it
            if missing is not None:
                return Outcome(missing.question, elapsed_ms(start), f"unresolved {missing.parameter}={missing.value!r}")
            if skill.isolated:
                answer = run_in_process(skill.function, call.kwargs, self.timeout_s)
            else:
                answer = self._in_thread(skill.function, call.kwargs)
        except (FutureTimeout, TimeLimitExceeded):
            stopped = "stopped it" if skill.isolated else "stopped waiting"
            message = f"The {call.name} skill took longer than {self.timeout_s:g} seconds, so I {stopped}."
            return Outcome(message, elapsed_ms(start), "timeout", failed=True)
        except Exception as error:  # a skill's bug must not end the loop
            log.info("skill %s failed on %s", call.name, call, exc_info=True)
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            return Outcome(
                f"Sorry, the {call.name} skill failed: {reason}", elapsed_ms(start), _kind(error), failed=True
            )
        return Outcome("" if answer is None else str(answer), elapsed_ms(start))

    def _in_thread(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """``function(**kwargs)`` in a worker thread under the caller's context; FutureTimeout at the time limit.

        The thread is a daemon, so one left running (a skill that hangs) does not hold the process at exit,
        as a ThreadPoolExecutor's workers do.
        """
        deadline = time.monotonic() + self.timeout_s
        if not self._threads.acquire(timeout=self.timeout_s):
            raise FutureTimeout
        result: Future[Any] = Future()
        context = contextvars.copy_context()

        def work() -> None:
            try:
                result.set_result(context.run(function, **kwargs))
            except BaseException as error:  # handed to the caller, as a pool's worker does
                result.set_exception(error)
            finally:
                self._threads.release()

        try:
            threading.Thread(target=work, name=f"skill-{next(_thread_numbers)}", daemon=True).start()
        except BaseException:  # no thread to release the place it took
            self._threads.release()
            raise
        return result.result(timeout=max(0.0, deadline - time.monotonic()))


def _kind(error: Exception) -> str:
    """The error's type name; for an isolated skill, the type it raised in its process."""
    return error.kind if isinstance(error, ChildFailed) else type(error).__name__
