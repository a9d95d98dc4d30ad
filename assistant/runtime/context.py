"""What skills need from the runtime: the configuration, two ways to talk to the user, a sound
for a timer going off, and the board of timers, so that a one-shot command can wait for them.

Skills call :func:`current_context` instead of taking these as arguments, so their signatures
stay exactly what the model sees. The runtime and tests choose the context with
:func:`use_context`; without one, a default is built once from the config file.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
from rich.console import Console
from rich.prompt import Confirm

from assistant.config import Config, load_config
from assistant.runtime.timers import TimerBoard
from assistant.voice.audio import import_sounddevice
from assistant.voice.tts import Speaker

RING_RATE = 22050


def ask_in_terminal(question: str) -> bool:
    """Ask a yes/no question on the terminal; with no terminal (a service, a pipe) the answer is no.

    Refusing is the safe default: nothing that needs a confirmation happens unattended.
    """
    if sys.stdin is None or not sys.stdin.isatty():
        return False
    return Confirm.ask(question, default=False)


def print_to_console(text: str) -> None:
    """Show a late message (a timer going off) on the console, without interpreting rich markup."""
    Console().print(text, markup=False)


def ring_sound() -> np.ndarray:
    """Two short 880 Hz beeps at :data:`RING_RATE`, with soft edges so they do not click."""
    t = np.arange(int(0.15 * RING_RATE)) / RING_RATE
    beep = 0.3 * np.sin(2 * np.pi * 880 * t) * np.minimum(1, np.minimum(t, t[::-1]) * 200)
    return np.concatenate([beep, np.zeros(int(0.1 * RING_RATE)), beep]).astype(np.float32)


def ring_tone(speaker: Speaker | None = None) -> None:
    """Sound a timer going off: two short beeps on the default output device, else the terminal bell.

    With a ``speaker`` the beeps are queued on it and return at once, so that "stop" silences them
    like speech (``SkillContext(ring=functools.partial(ring_tone, speaker))``). Never raises: a
    machine without sound (a server, a container) still gets the spoken words.
    """
    try:
        if speaker is not None:
            speaker.play(ring_sound(), RING_RATE)
        else:
            import_sounddevice().play(ring_sound(), RING_RATE, blocking=True)
    except Exception:  # no PortAudio, no output device, a device that fails: fall back to the bell
        with suppress(Exception):
            if sys.stderr is not None and sys.stderr.isatty():
                sys.stderr.write("\a")
                sys.stderr.flush()


@dataclass
class SkillContext:
    """The configuration, how to ask the user yes/no, how to tell them something later and ring, and the timers."""

    config: Config
    confirm: Callable[[str], bool] = ask_in_terminal
    announce: Callable[[str], None] = print_to_console
    ring: Callable[[], None] = ring_tone
    timers: TimerBoard = field(default_factory=TimerBoard)


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
