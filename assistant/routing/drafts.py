"""Guessed calls for the decoder to check in one pass instead of decoding them a token at a time.

Decoding a call costs one model step per token, while checking a guessed continuation costs one pass for
all of its tokens. The decoder keeps only the tokens that greedy decoding under the grammar chooses
(:mod:`assistant.routing.decoding`), so a wrong guess costs time, not a different call.

The guesses come from the pack's written examples most like what was said (rapidfuzz's ratio over
:func:`~assistant.runtime.example_files.utterance_key`), each example's calls carried over to the new
words: a value written in its example's sentence is replaced by the words said in the same place, found by
aligning the words around it (difflib), in their case as said, as the router copies them. A closed value
(``Literal``) is the choice said in that place, or the example's own if none is. An example whose value has
no place in what was said gives no guess. When the decoder has already written part of the calls (a guess
went astray), the next guess comes from the examples of the skill it wrote, and must go on from its text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from assistant.routing.calls import Call, Calls, Literal_
from assistant.runtime.example_files import Example, ExamplesError, read_example_files, utterance_key
from assistant.runtime.pack import SkillPack

NEIGHBOURS = 8  # examples looked at, most alike first
MAX_WORDS = 40  # longer utterances are not guessed (the alignment grows with both lengths)
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


@dataclass(frozen=True)
class _Said:
    """An utterance as words: as written, and folded for comparing."""

    text: str
    words: tuple[str, ...]
    folded: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> _Said:
        words = tuple(_WORD.findall(text))
        return cls(text, words, tuple(word.casefold() for word in words))


class CallDrafter:
    """Guesses of an utterance's calls from a pack's written examples (see the module docstring)."""

    def __init__(self, pack: SkillPack, examples: Sequence[Example]):
        self.pack = pack
        self._of: dict[str, list[tuple[Example, _Said, str]]] = {}  # by the skill of the first call
        for example in examples:
            entry = (example, _Said.of(example.user), utterance_key(example.user))
            self._of.setdefault(example.calls[0].name, []).append(entry)

    @classmethod
    def for_pack(cls, pack: SkillPack) -> CallDrafter:
        """The drafter of the pack's example files; one that guesses nothing when they cannot be read (the
        instant path and ``-t`` say why)."""
        try:
            files = read_example_files(pack.example_files(), pack)
        except ExamplesError:
            files = []
        return cls(pack, [example for file in files for example in file.all_examples])

    def guess(self, said: str, written: str = "") -> Calls | None:
        """The likeliest guess of the calls for ``said`` whose text goes on from ``written`` (what the decoder
        has written so far), from the written examples of the skills whose names go on from its first word."""
        new = _Said.of(said)
        if len(new.words) > MAX_WORDS:
            return None
        name, opened, _ = written.partition("(")
        pool = [
            entry
            for skill, entries in self._of.items()
            if (skill == name if opened else skill.startswith(name))
            for entry in entries
        ]
        keys = [key for _, _, key in pool]
        for _, _, index in process.extract(utterance_key(said), keys, scorer=fuzz.ratio, limit=NEIGHBOURS):
            example, example_said, _ = pool[index]
            guess = self._carry_over(example.calls, example_said, new)
            if guess is not None and len(text := str(guess)) > len(written) and text.startswith(written):
                return guess
        return None

    def _carry_over(self, calls: Calls, written: _Said, new: _Said) -> Calls | None:
        """``calls`` with each value written in ``written`` replaced by the words of ``new`` in its place."""
        places = _aligned(written.folded, new.folded)
        carried = []
        for call in calls:
            args = []
            for name, value in call.args:
                if isinstance(value, str):
                    value = self._value_in_place(call.name, name, value, written, new, places)
                    if value is None:
                        return None
                args.append((name, value))
            carried.append(Call(call.name, tuple(args)))
        return Calls(carried)

    def _value_in_place(
        self, skill: str, argument: str, value: str, written: _Said, new: _Said, places: dict[int, int]
    ) -> Literal_ | None:
        """What ``new`` says where ``written`` says ``value``; the value itself when ``written`` does not say it."""
        span = _find(_folded_words(value), written.folded)
        if span is None:
            return value
        start, end = span
        same = [places.get(index, -1) for index in range(start, end)]
        if same[0] >= 0 and same == list(range(same[0], same[0] + len(same))):  # said alike in both
            first, last = same[0], same[-1] + 1
        else:
            first = 0 if start == 0 else places.get(start - 1, -2) + 1
            last = len(new.words) if end == len(written.words) else places.get(end, -1)
        while last > first and not new.words[last - 1][0].isalnum():  # a sentence's full stop is not the value's
            last -= 1
        if first < 0 or last <= first:
            return None
        words = new.words[first:last]
        found = re.search(r"\s*".join(re.escape(word) for word in words), new.text)
        if found is None:
            return None
        choices = next(param.choices for param in self.pack.skills[skill].parameters if param.name == argument)
        if choices is None:
            return found.group(0)
        said = tuple(word.casefold() for word in words)
        return next((choice for choice in choices if _find(_folded_words(str(choice)), said)), value)


def _folded_words(text: str) -> tuple[str, ...]:
    return tuple(word.casefold() for word in _WORD.findall(text))


def _find(words: tuple[str, ...], within: tuple[str, ...]) -> tuple[int, int] | None:
    """The first place of ``words`` in ``within`` as (start, end), or None."""
    for start in range(len(within) - len(words) + 1):
        if words and within[start : start + len(words)] == words:
            return start, start + len(words)
    return None


def _aligned(written: tuple[str, ...], new: tuple[str, ...]) -> dict[int, int]:
    """For each word of ``written`` that lines up with a word of ``new``, that word's index in ``new``."""
    places = {}
    for a, b, size in difflib.SequenceMatcher(None, written, new, autojunk=False).get_matching_blocks():
        for offset in range(size):
            places[a + offset] = b + offset
    return places
