"""Guessed calls for the decoder to check in one pass instead of decoding them a token at a time.

Decoding a call costs one model step per token, while checking a guessed continuation costs one pass for
all of its tokens. The decoder keeps only the tokens that greedy decoding under the grammar chooses
(:mod:`assistant.routing.decoding`), so a wrong guess costs time, not a different call.

The guesses come from the pack's written examples most like what was said (rapidfuzz's ratio over
:func:`~assistant.runtime.example_files.utterance_key`), each example's calls carried over to the new
words: a value written in its example's sentence is replaced by the words said in the same place, found by
aligning the words around it (difflib), in their case as said, as the router copies them. A closed value
(``Literal``) is the choice said in that place, or the example's own if none is. A value its example
computes from numbers said ("15 times 15" => ``15*15``) takes the numbers said now in their place, in order.
An example whose value has no place in what was said gives no guess. When the decoder has already written
part of the calls (a guess went astray), the next guess comes from the examples of the skill it wrote, and
must go on from its text.

A compound command is guessed a clause at a time, clauses split where the training data joins commands
(:data:`~assistant.routing.calls.CONNECTIVES`): the first call from the clause (a start of the utterance up
to a connective, or all of it) most like an example, each next one from what follows the words the calls
before it copied, past the next connective. So is the rest of a command whose first calls the decoder has
closed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from rapidfuzz import fuzz, process

from assistant.routing.calls import CONNECTIVES, MAX_CALLS, SEPARATOR, Call, CallError, Calls, Literal_, finished_calls
from assistant.runtime.example_files import Example, ExamplesError, read_example_files, utterance_key
from assistant.runtime.pack import SkillPack
from assistant.runtime.spoken_numbers import FRACTION_WORDS, NUMBER_WORDS, spoken_number

NEIGHBOURS = 8  # examples looked at, most alike first
MAX_WORDS = 40  # longer utterances are not guessed (the alignment grows with both lengths)
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_NUMBER_OR_WORD = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_JOINS = tuple(tuple(_WORD.findall(connective.format(a="", b="").casefold())) for connective in CONNECTIVES)


@dataclass(frozen=True)
class _Said:
    """An utterance as words: as written, and folded for comparing."""

    text: str
    words: tuple[str, ...]
    folded: tuple[str, ...]
    starts: tuple[int, ...]  # where each word starts in the text

    @classmethod
    def of(cls, text: str) -> _Said:
        found = list(_WORD.finditer(text))
        words = tuple(match.group() for match in found)
        return cls(text, words, tuple(word.casefold() for word in words), tuple(match.start() for match in found))

    def joins(self, start: int = 0) -> list[tuple[int, int]]:
        """Where a connective joins two clauses at or after word ``start``: its first word and the word after."""
        places = []
        for at in range(max(start, 1), len(self.folded)):
            length = max((len(join) for join in _JOINS if self.folded[at : at + len(join)] == join), default=0)
            if length and at + length < len(self.folded) and not self._and_of_a_number(at, length):
                places.append((at, at + length))
        return places

    def _and_of_a_number(self, at: int, length: int) -> bool:
        """Whether the words at ``at`` are an "and" that goes on saying a number ("a hundred and forty", "an
        hour and a half")."""
        after = self.folded[at + length : at + length + 2]
        return self.folded[at : at + length] == ("and",) and (
            after[0] in NUMBER_WORDS
            or after[0] in FRACTION_WORDS
            or after[0][0].isdigit()
            or after[-1] in FRACTION_WORDS
        )

    def part(self, start: int, end: int | None = None) -> _Said:
        """The words from ``start`` up to ``end`` as said."""
        stop = len(self.text) if end is None or end >= len(self.words) else self.starts[end]
        return _Said.of(self.text[self.starts[start] : stop].strip())


class CallDrafter:
    """Guesses of an utterance's calls from a pack's written examples (see the module docstring)."""

    def __init__(self, pack: SkillPack, examples: Sequence[Example]):
        self.pack = pack
        self._of: dict[str, list[tuple[Example, _Said, str]]] = {}  # by the skill of the first call
        for example in examples:
            entry = (example, _Said.of(example.user), utterance_key(example.user))
            self._of.setdefault(example.calls[0].name, []).append(entry)
        self._keys = [key for entries in self._of.values() for _, _, key in entries]

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
        has written so far): the calls ``written`` closes, then the rest of the command guessed from the
        written examples of the skills whose names go on from what follows them."""
        new = _Said.of(said)
        if len(new.words) > MAX_WORDS:
            return None
        return self._calls(new, written)

    def _calls(self, new: _Said, written: str) -> Calls | None:
        closed = finished_calls(written)
        if not closed:
            return self._first(new, written)
        rest = written[len(SEPARATOR.join(closed)) :]
        going_on = bool(rest)  # a separator, or its start, after the closed calls
        try:
            calls = [self.pack.parse(piece, new.text) for piece in closed]
        except CallError:
            return None
        after = self._after(new, calls)
        if after is None or len(calls) >= MAX_CALLS:
            return None if going_on else Calls(calls)
        more = self._calls(new.part(after), rest[len(SEPARATOR) :] if rest.startswith(SEPARATOR) else "")
        if more is None:
            return None if going_on else Calls(calls)
        return Calls([*calls, *more][:MAX_CALLS])

    def _first(self, new: _Said, written: str) -> Calls | None:
        """The first call, from the clause most like an example, with a guess of the rest after it."""
        name, opened, _ = written.partition("(")
        pool = [
            entry
            for skill, entries in self._of.items()
            if (skill == name if opened else skill.startswith(name))
            for entry in entries
        ]
        keys = [key for _, _, key in pool]
        if not keys:
            return None
        ranked = []
        for clause, rest in [(new, None), *((new.part(0, end), new.part(after)) for end, after in new.joins())]:
            found = process.extract(utterance_key(clause.text), keys, scorer=fuzz.ratio, limit=NEIGHBOURS)
            ranked.append((self._alike(new, clause, found, rest), clause, found))
        for _, clause, found in sorted(ranked, key=lambda entry: -entry[0]):
            for _, _, index in found:
                example, example_said, _ = pool[index]
                guess = self._carry_over(example.calls, example_said, clause)
                if guess is None or not (text := str(guess)).startswith(written):
                    continue
                if len(text) > len(written):
                    return self._calls(new, text) or guess
        return None

    def _alike(self, new: _Said, clause: _Said, found: list[tuple[str, float, int]], rest: _Said | None) -> float:
        """How alike ``clause`` (its examples ``found``, most alike first) and the ``rest`` said after it are to
        examples, by words said."""
        score = (found[0][1] if found else 0.0) * len(clause.words)
        if rest is not None:
            other = process.extractOne(utterance_key(rest.text), self._keys, scorer=fuzz.ratio)
            score += (other[1] if other else 0.0) * len(rest.words)
        return score / len(new.words)

    @staticmethod
    def _after(new: _Said, calls: Sequence[Call]) -> int | None:
        """Where in ``new`` the clause after ``calls`` starts: past the words their values copy, if said, and
        one connective a call; None when nothing is said after them."""
        at = 0
        for call in calls:
            for value in call.kwargs.values():
                span = _find(_folded_words(str(value)), new.folded[at:])
                if span is not None:
                    at += span[1]
            joins = new.joins(at)
            if not joins:
                return None
            at = joins[0][1]
        return at

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
            return _renumbered(value, written.text, new.text)
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


def _renumbered(value: str, written: str, new: str) -> str | None:
    """``value`` with each number that ``written`` says replaced by the number ``new`` says in its place (the
    n-th said for the n-th); numbers it does not say stay. None when it takes numbers said and the two say
    different counts of them."""
    before = _numbers(written)
    places: list[tuple[re.Match[str], int]] = []  # each number of the value that is said, and which one it is
    for match in _DIGITS.finditer(value):
        number, after = Fraction(match.group()), places[-1][1] + 1 if places else 0
        said = next((index for index in range(after, len(before)) if before[index][0] == number), None)
        if said is not None:
            places.append((match, said))
    if not places:
        return value
    now = _numbers(new)
    if len(before) != len(now):
        return None
    pieces, at = [], 0
    for match, said in places:
        pieces.append(value[at : match.start()] + now[said][1])
        at = match.end()
    return "".join(pieces) + value[at:]


def _numbers(text: str) -> list[tuple[Fraction, str]]:
    """The numbers ``text`` says, in digits or in words, each with how a call writes it."""
    found: list[tuple[Fraction, str]] = []
    run: list[str] = []

    def close() -> None:
        while run and run[-1] in ("and", "a"):
            run.pop()
        number = spoken_number(" ".join(run)) if run else None
        if number is not None:
            found.append((number, str(number.numerator) if number.denominator == 1 else str(float(number))))
        run.clear()

    for match in _NUMBER_OR_WORD.finditer(text.casefold()):
        word = match.group()
        if word[0].isdigit():
            close()
            found.append((Fraction(word), word))
        elif word in NUMBER_WORDS or (run and word == "and") or (word == "a" and not run):
            run.append(word)
        else:
            close()
    close()
    return found


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
