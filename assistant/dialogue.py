"""The last turn, remembered for a short while so that a follow-up ("and tomorrow?") can build on it, and
the wake word that opens a command addressed to the assistant.

Only one exchange is kept, its utterance capped, in memory only: nothing of it is written to disk.
A remembered turn may be a question the assistant asked instead of acting ("A timer for ten minutes?");
a bare yes or no (:data:`YES`, :data:`NO`: the words the router is trained on, too) answers it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.routing.calls import Calls

MAX_REMEMBERED_CHARS = 200  # a follow-up needs the gist of the last request, not a whole dictated note
MAX_QUESTION_CHARS = 60  # "Which program?", not the explanation that follows it
MAX_QUESTION_SCAN_CHARS = 1000  # a question to follow up on opens an answer: a long one (20,000 notes) is not read
YES = ("yes", "yeah", "yes please", "yep", "sure", "do it", "correct", "that's right", "right", "okay", "go ahead")
NO = ("no", "nope", "no thanks", "never mind", "don't", "no, that's wrong", "not that", "forget it", "no no")
EXAMPLE_WAKE_WORDS = (
    "hey voxroute",
    "ok voxroute",
    "okay voxroute",
    "voxroute",  # what example files open with
    "hey computer",
    "ok computer",
    "okay computer",
    "computer",
)


def remembered(user: str) -> str:
    """An utterance as it is kept for the next turn: spacing normalised, capped at a word boundary."""
    user = " ".join(user.split())
    return user if len(user) <= MAX_REMEMBERED_CHARS else user[:MAX_REMEMBERED_CHARS].rsplit(" ", 1)[0]


def first_question(said: str) -> str:
    """The assistant's first question in what it said ("Which program?"), capped; "" when it asked none.

    An answer may be read as a reply to a question only after one, so the remembered turn keeps it. Only the
    first :data:`MAX_QUESTION_SCAN_CHARS` characters are looked at, each once, however long the answer.
    """
    head = said[:MAX_QUESTION_SCAN_CHARS]
    end = head.find("?")
    if end < 0:
        return ""
    start = max(head.rfind(".", 0, end), head.rfind("!", 0, end)) + 1  # the sentence that ends with the "?"
    return remembered(head[start : end + 1])[:MAX_QUESTION_CHARS]


def _bare(said: str) -> str:
    """Words as a yes or no is compared: case, punctuation and spacing folded, apostrophes kept."""
    return " ".join(re.sub(r"[^\w']+", " ", said.casefold().replace("\u2019", "'")).split())


_REPLIES = {**{_bare(word): True for word in YES}, **{_bare(word): False for word in NO}}


def yes_or_no(said: str) -> bool | None:
    """True for a bare yes ("Yes, please."), False for a bare no ("No, that's wrong"), None for anything else."""
    return _REPLIES.get(_bare(said))


def after_wake_word(said: str, wake_word: str | Sequence[str]) -> str | None:
    """What was said after the wake word, or None when ``said`` does not start with it; ``said`` itself when
    there is no wake word (""). Case and the punctuation around its words do not count ("Hey, Voxroute! timer
    five minutes" is "timer five minutes"), and "computers are great" does not start with "computer".
    ``wake_word`` may be several, any of which counts."""
    phrases = [wake_word] if isinstance(wake_word, str) else wake_word
    spoken = [r"\W+".join(re.escape(word) for word in phrase.casefold().split()) for phrase in phrases if phrase]
    if not spoken:
        return said
    match = re.match(rf"^\W*(?:{'|'.join(spoken)})\b[\s,.!?:;-]*", said.casefold())
    return said[match.end() :].strip() if match else None


def without_wake_word(user: str) -> str:
    """An example's words as a command heard after the wake word ("hey voxroute ...", "computer, ..."): the
    words themselves when they open with none, or are nothing but one."""
    return after_wake_word(user, EXAMPLE_WAKE_WORDS) or user


@dataclass(frozen=True)
class Exchange:
    """One earlier turn as the router sees it: what was said, the calls it became, and the question the
    assistant asked in reply ("For how long?"), if it asked one."""

    user: str
    calls: Calls
    asked: str = ""

    def said(self, utterance: str) -> str:
        """What spans may copy from in a follow-up: both utterances, one per line
        (see :mod:`assistant.routing.spans`)."""
        return f"{' '.join(self.user.split())}\n{' '.join(utterance.split())}"


class Memory:
    """The last exchange and when it ended; it counts as context for ``window_s`` seconds."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self._clock = clock
        self._last: tuple[Exchange, float] | None = None
        self._lock = threading.Lock()

    def remember(self, user: str, calls: Calls, answer: str = "") -> None:
        """Keep a turn: the utterance, its calls and the question in the assistant's ``answer``, if any."""
        with self._lock:
            self._last = (Exchange(remembered(user), calls, first_question(answer)), self._clock())

    def forget(self) -> None:
        with self._lock:
            self._last = None

    def snapshot(self) -> tuple[Exchange, float] | None:
        with self._lock:
            return self._last

    def restore(self, state: tuple[Exchange, float] | None) -> None:
        """Put back a snapshot: a turn that turned out to be the start of a longer one is not remembered."""
        with self._lock:
            self._last = state

    def recent(self) -> Exchange | None:
        """The last exchange if it ended within the window, else None."""
        with self._lock:
            if self._last is None or self._clock() - self._last[1] > self.window_s:
                return None
            return self._last[0]
