"""Running a function in a child process that is killed at its time limit.

A Python thread cannot be stopped, and a C-level computation (``round(5, -10**9)``) holds the
interpreter so that no other thread runs either: the only hard limit is a process. The child is
forked, so it starts in milliseconds with the parent's imports and needs nothing pickled but the
arguments and the answer; it suits skills that only compute and touch no shared state.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


class TimeLimitExceeded(Exception):
    """The function did not answer within its time limit; its process was killed."""


class ChildFailed(Exception):
    """The function raised in the child (``kind`` names what it raised) or the child died."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def run_in_process(function: Callable[..., Any], kwargs: dict[str, Any], timeout_s: float) -> Any:
    """``function(**kwargs)`` in a forked child; its result, or TimeLimitExceeded/ChildFailed."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_child, args=(sender, function, kwargs), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            raise TimeLimitExceeded(f"no answer within {timeout_s:g} s")
        try:
            ok, value = receiver.recv()
        except EOFError:
            raise ChildFailed("ChildDied", f"its process ended with exit code {child.exitcode}") from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if not ok:
        raise ChildFailed(*value)
    return value


def _child(sender: Connection, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        result: tuple[bool, Any] = (True, function(**kwargs))
    except Exception as error:  # reported to the parent as one line
        result = (False, (type(error).__name__, str(error)))
    try:
        sender.send(result)
    except Exception as error:  # an answer that cannot be pickled
        sender.send((False, (type(error).__name__, str(error))))
    sender.close()
    os._exit(0)  # skip the parent's atexit handlers and thread joins, inherited by the fork
