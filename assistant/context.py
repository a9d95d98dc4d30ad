"""What skills need from the runtime: the configuration, two ways to talk to the user, and a
place to leave work that finishes later (a timer), so that a one-shot command can wait for it.

Skills call :func:`current_context` instead of taking these as arguments, so their signatures
stay exactly what the model sees. The runtime and tests choose the context with
:func:`use_context`; without one, a default is built once from the config file.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from rich.console import Console
from rich.prompt import Confirm

from assistant.config import Config, load_config


def ask_in_terminal(question: str) -> bool:
    """Ask a yes/no question on the terminal; with no terminal (a service, a pipe) the answer is no.

    Refusing is the safe default: nothing that needs a confirmation happens unattended.
    """
    if sys.stdin is None or not sys.stdin.isatty():
        return False
    return Confirm.ask(question, default=False)


_later: list[threading.Timer] = []
_later_lock = threading.Lock()


def call_later(seconds: float, function: Callable[..., object], *args: object) -> None:
    """Run ``function(*args)`` after ``seconds`` in the background; :func:`pending` lists what has not run yet."""
    timer = threading.Timer(seconds, function, args=args)
    timer.daemon = True
    with _later_lock:
        _later[:] = [waiting for waiting in _later if waiting.is_alive()]
        _later.append(timer)
    timer.start()


def pending() -> list[threading.Timer]:
    """Background work started by :func:`call_later` that has not finished."""
    with _later_lock:
        return [waiting for waiting in _later if waiting.is_alive()]


def print_to_console(text: str) -> None:
    """Show a late message (a timer going off) on the console, without interpreting rich markup."""
    Console().print(text, markup=False)


@dataclass
class SkillContext:
    """The configuration, plus how to ask the user yes/no and how to tell them something later."""

    config: Config
    confirm: Callable[[str], bool] = ask_in_terminal
    announce: Callable[[str], None] = print_to_console


_current: ContextVar[SkillContext | None] = ContextVar("voxroute_skill_context", default=None)
_default: SkillContext | None = None
_default_lock = threading.Lock()


def current_context() -> SkillContext:
    """The context set by :func:`use_context`, else the process default (config file, terminal, console)."""
    context = _current.get()
    if context is not None:
        return context
    global _default
    with _default_lock:
        if _default is None:
            _default = SkillContext(load_config())
        return _default


@contextmanager
def use_context(context: SkillContext) -> Iterator[SkillContext]:
    """Run a block (a request, a test) with ``context`` as the current one."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
