"""The instant path: a pack's own sentences recognised exactly, ahead of the trained router.

A skill works the moment its example file exists. :class:`InstantMatcher` is built once per pack from
its example files and recognises, with hassil's matcher,

* every ``#### Templates:`` template with its lists, the sentences ``training_data.py -t`` expands, and
* every written example (``### User:`` / ``### Assistant:``), each value copied from its words a slot of
  that one value.

An utterance that is one of these sentences, whole, gets the call(s) ``-t`` labels that sentence with:
the same ``said => value`` mapping, an argument whose optional slot was left out dropped, the call
bound through the pack by :func:`assistant.runtime.templates.fill`. A string said as written (no
``=>``) is copied from the words heard, in their case, as the router copies it. A written example
wins over a template sentence, as it does in ``-t``.

Both sides are normalised alike: hassil folds case, punctuation and apostrophes, and numbers written in
digits are said in words first (Whisper writes "10 minutes" for "ten minutes"; :func:`spoken`), with a
map back to the words heard.

A list that feeds a ``Span`` argument is a set of examples, not a closed set: its slot takes other
words too (a hassil wildcard), and the call copies them (a first or last word that the list's lines
drop, "the pasta => pasta", left out). The words are held to the shape of the argument's examples
(its list's values and its written examples' values), so that the command around a value is never
swallowed into it: an example's words with other numbers ("17 minutes" like "ten minutes"), or words
of the examples with at least one new word (a name, a place: "Ulaanbaatar", "kdenlive"), at most
:data:`MAX_EXTRA_WORDS` more than the longest example, where a new word is one the pack's commands
never use (its templates' words, its closed lists, its written examples outside their said values).
No word may be said twice in a row or cut off ("chro- chrome"). So "set a timer for 17 minutes" and
"weather in Ulaanbaatar" match, while "set a timer for 10 minutes and open spotify" and "open
kdenlive please" (where no template says "please") go to the router. Two open slots side by side
stay closed (hassil does not split the words between two wildcards). A list that feeds a
``Literal`` argument, or none, stays closed.

The reading whose open slots take the fewest words wins; two different calls among those are
ambiguous, and the router decides. So does anything not matched, an utterance of more than
:data:`MAX_WORDS` words, a search past :data:`MAX_MATCH_S`, and a sentence of a skill that changes
another without naming it ("make it ten" means something only right after a timer).

:class:`InstantRouter` puts the matcher ahead of any :class:`~assistant.routing.router.Router`, only
for a request that stands alone (no previous turn: a follow-up is the router's, which reads it) and
is complete (not a partial transcript routed while the user still speaks: "can I get a large latte"
may be a whole template sentence though the speaker goes on "with oat milk"). ``Routed.path`` says
which one answered.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from assistant.routing.calls import Call, CallError, Calls, RawCall, parse_call
from assistant.routing.router import OnCall, Routed, Router
from assistant.routing.spans import is_span
from assistant.runtime.example_files import Example, ExampleFile, ExamplesError, read_example_files, utterance_key
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Parameter
from assistant.runtime.templates import SLOT, SlotValue, Template, TemplateError, fill, sentence_forms
from assistant.timing import elapsed_ms

if TYPE_CHECKING:
    from hassil import Intents, RecognizeResult

    from assistant.dialogue import Exchange

log = logging.getLogger(__name__)

INSTANT = "instant"  # Routed.path when the matcher answered (the trained router's is "router")
MAX_WORDS = 40  # longer utterances go to the router; the longest shipped written example says 30 words
MAX_MATCH_S = 0.1  # one search (checked between results and files); the shipped pack's take ~2 ms, at most 17
MAX_EXTRA_WORDS = 2  # words an open slot may take beyond its longest example
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:\.\d+)?")
_ORDINAL = re.compile(r"(?:st|nd|rd|th)(?![^\W\d_])")
_SLOT_OR_TEXT = re.compile(r"\{[^{}]*\}|[^{]+")  # a template's {slot} reference, or the text around one
_HASSIL_SYNTAX = re.compile(r"([()\[\]{}<>|;\\])")
_EXAMPLE_SLOT = re.compile(r"(\{s\d+\})")  # a written example's said value, as its sentence marks it
_ADJACENT_SLOTS = re.compile(r"\{([\w-]+)\}\s*(?=\{([\w-]+)\})")


def spoken(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` with each number written in digits said in words ("10" -> "ten", "3rd" -> "third", "1.5" ->
    "one point five", "1,000" -> "one thousand"), and for each character of the result the start and end of
    the characters of ``text`` it comes from (every word of a number comes from the whole number)."""
    from hassil.numbers import get_rbnf_engine  # unicode-rbnf, as hassil has it

    engine = get_rbnf_engine("en")
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def copy(start: int, end: int) -> None:
        out.extend(text[start:end])
        starts.extend(range(start, end))
        ends.extend(range(start + 1, end + 1))

    at = 0
    for match in _NUMBER.finditer(text):
        copy(at, match.start())
        digits, end = match.group(), match.end()
        ordinal = None if "." in digits else _ORDINAL.match(text, end)
        number = float(digits) if "." in digits else int(digits.replace(",", ""))
        rulesets = ["spellout-ordinal"] if ordinal is not None else None  # None: the cardinal ones
        words = engine.format_number(number, ruleset_names=rulesets).text.replace("-", " ")
        end = ordinal.end() if ordinal is not None else end
        before = " " if out and out[-1].isalnum() else ""
        after = " " if end < len(text) and text[end].isalnum() else ""
        said = f"{before}{words}{after}"
        out.extend(said)
        starts.extend([match.start()] * len(said))
        ends.extend([end] * len(said))
        at = end
    copy(at, len(text))
    return "".join(out), starts, ends


@lru_cache(maxsize=1 << 14)  # building the matcher reads the pack's values many times over
def spoken_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as the matcher compares them: numbers in words, case and punctuation aside."""
    return tuple(utterance_key(spoken(text)[0]).split())


@cache
def number_words() -> frozenset[str]:
    """The words numbers are said with ("seventy", "hundred", "point")."""
    from hassil.numbers import get_rbnf_engine

    engine = get_rbnf_engine("en")
    said = (engine.format_number(n).text for n in [*range(100), 100, 1000, 10**6, 1.5])
    return frozenset(word for text in said for word in text.replace("-", " ").split())


def follows_on(calls: Calls, utterance: str, pack: SkillPack) -> bool:
    """Whether these calls change what another skill started without naming it ("make it ten" changes a timer):
    such a sentence means something only right after that skill's call, and alone ``-t`` labels it the
    fallback call (the rule of ``finetune.compose.follows_on``, by which the data set is made)."""
    skill = pack.skills.get(calls[0].name) if len(calls) == 1 else None
    target = skill.changes if skill is not None else None
    return target is not None and target.casefold() not in utterance_key(utterance).split()


def _shape(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words with each run of number words one "#": "1 hour 20 minutes" is "# hour # minutes"."""
    shape: list[str] = []
    for word in words:
        if word not in number_words():
            shape.append(word)
        elif not shape or shape[-1] != "#":
            shape.append("#")
    return tuple(shape)


def _disfluent(heard: str) -> bool:
    """A word said twice in a row ("the the") or cut off ("chro- chrome"): the speaker corrected themselves,
    which the router reads."""
    words = heard.casefold().split()
    return any(word.endswith("-") for word in words) or any(a == b for a, b in itertools.pairwise(words))


def _literal(text: str) -> str:
    """Plain text as hassil reads it literally (its syntax escaped), its numbers in words and without the
    punctuation hassil takes from what it matches."""
    from hassil.util import remove_punctuation

    return _HASSIL_SYNTAX.sub(r"\\\1", remove_punctuation(spoken(text)[0]))


def _spoken_template(sentence: str) -> str:
    """A template's sentence with the numbers of its words in words; its ``{slot}`` references as they are."""
    return "".join(piece if piece.startswith("{") else spoken(piece)[0] for piece in _SLOT_OR_TEXT.findall(sentence))


@dataclass(frozen=True)
class OpenSlot:
    """What the words of an open slot may be, from the examples of its argument (see the module docstring)."""

    words: frozenset[str]  # the words of its examples
    shapes: frozenset[tuple[str, ...]]  # its examples with each number "#": "# minutes", "# hour # minutes"
    longest: int  # words of its longest example
    first: frozenset[str]  # words its list's lines drop from the start of a value ("the pasta => pasta")
    last: frozenset[str]  # and from its end

    @classmethod
    def of(cls, examples: Iterable[str], values: list[SlotValue]) -> OpenSlot:
        """The shape of the examples, and what the list's ``said => value`` lines drop."""
        said = [spoken_words(example) for example in examples]
        first, last = set(), set()
        for value in values:
            whole, kept = spoken_words(value.said), spoken_words(value.value)
            if len(whole) == len(kept) + 1 and whole[1:] == kept:
                first.add(whole[0])
            if len(whole) == len(kept) + 1 and whole[:-1] == kept:
                last.add(whole[-1])
        return cls(
            frozenset(word for example in said for word in example),
            frozenset(_shape(example) for example in said),
            max(map(len, said)),
            frozenset(first),
            frozenset(last),
        )

    def fits(self, heard: str, commands: frozenset[str]) -> bool:
        """Whether the words heard are a value like the examples: one of their shapes with other numbers, or
        their words and at least one new word, no longer than the longest by MAX_EXTRA_WORDS."""
        words = spoken_words(heard)
        if _disfluent(heard):
            return False
        if _shape(words) in self.shapes:
            return True
        return (
            len(words) <= self.longest + MAX_EXTRA_WORDS
            and all(word in self.words or word not in commands for word in words)
            and any(word not in commands for word in words)
        )

    def value(self, heard: str) -> str:
        """The words heard as a value: a first or last word that the list's lines drop left out."""
        words = heard.split(" ")
        if len(words) > 1 and utterance_key(words[0]) in self.first:
            words = words[1:]
        if len(words) > 1 and utterance_key(words[-1]) in self.last:
            words = words[:-1]
        return " ".join(words)


@dataclass(frozen=True)
class _Template:
    """A template as the matcher reads it: its call before its slots are filled, and how each slot is read."""

    template: Template
    raw: RawCall
    lists: dict[str, list[SlotValue]]  # its file's lists
    open_slots: dict[str, OpenSlot]
    copied: frozenset[str]  # closed slots of string arguments: a value said as written is copied from the words


@dataclass(frozen=True)
class _Written:
    """A written example as the matcher reads it: which slot stands for each of its said values."""

    example: Example
    said: tuple[tuple[str, str], ...]  # (slot, the said value it stands for)


@dataclass(frozen=True)
class Match:
    """A sentence of the pack that an utterance is: its calls, and how many words its open slots took."""

    calls: Calls
    open_words: int
    where: str  # file:line of the template or written example
    written: bool  # a written example, which wins over the templates' sentences as in -t


class InstantMatcher:
    """The pack's template sentences and written examples, recognised with hassil (see the module docstring)."""

    def __init__(
        self,
        pack: SkillPack,
        files: list[ExampleFile],
        max_match_s: float = MAX_MATCH_S,
        vocabulary: list[ExampleFile] | None = None,
    ):
        """``vocabulary``: the files whose command words an open slot may not take (default: ``files``). A matcher
        of some files of a pack reads them with the whole pack's: "note to self: ..." is no "{quantity} to
        {unit}" where the notes file says "note"."""
        from hassil import Intents

        self.pack, self.max_match_s = pack, max_match_s
        self._read: dict[str, _Template | _Written] = {}  # by hassil intent name
        self._values = _span_values(pack, files)
        self._commands = _command_words(pack, files if vocabulary is None else vocabulary)
        self._templates: list[Intents] = []  # one per file, so that the deadline is checked between files
        by_key: dict[str, dict[str, Any]] = {}  # a written example is looked up by its words first
        for number, example_file in enumerate(files):
            intents: dict[str, Any] = {}
            for index, template in enumerate(example_file.templates):
                intents[f"{number}:t{index}"] = {
                    "data": [self._template_data(f"{number}:t{index}", example_file, template)]
                }
            if intents:
                self._templates.append(Intents.from_dict({"language": "en", "intents": intents}))
            for index, example in enumerate(example_file.all_examples):
                if not example.calls.unfinished and not follows_on(example.calls, example.user, pack):
                    name = f"{number}:e{index}"
                    data = {"data": [self._example_data(name, example)]}
                    by_key.setdefault(" ".join(spoken_words(example.user)), {})[name] = data
        self._examples = {key: Intents.from_dict({"language": "en", "intents": i}) for key, i in by_key.items()}
        parsed = sum(len(d.sentences) for i in self._templates for intent in i.intents.values() for d in intent.data)
        log.info("instant: %d templates parsed, %d written sentences", parsed, len(self._examples))

    @classmethod
    def for_pack(cls, pack: SkillPack, max_match_s: float = MAX_MATCH_S) -> InstantMatcher:
        """The matcher of the pack's example files; ExamplesError (file:line) when one cannot be read or a template
        cannot be used."""
        files = read_example_files(pack.example_files(), pack)
        try:
            return cls(pack, files, max_match_s)
        except TemplateError as error:
            raise ExamplesError([str(error)]) from None

    def _template_data(self, name: str, example_file: ExampleFile, template: Template) -> dict[str, Any]:
        """hassil's data for one template: its sentence and lists, a Span argument's list a wildcard."""
        raw, feeds = _slot_arguments(self.pack, template)
        spans = {slot for slot, arguments in feeds.items() if any(param.span for param in arguments)}
        pairs = {pair for form in sentence_forms(template) for pair in _ADJACENT_SLOTS.findall(form)}
        adjacent = {slot for pair in pairs if set(pair) <= spans for slot in pair}  # two wildcards side by side
        lists: dict[str, Any] = {}
        open_slots: dict[str, OpenSlot] = {}
        copied = set()
        for slot in dict.fromkeys(SLOT.findall(template.sentence)):
            values = example_file.lists.get(slot)
            if not values:
                raise TemplateError(f"{template.where}: no list {{{slot}}} in this file (write '{{{slot}}} = a | b')")
            arguments = feeds.get(slot, [])
            if slot in spans - adjacent:
                lists[slot] = {"wildcard": True}
                written = (value for param in arguments for value in self._values.get((raw.name, param.name), ()))
                open_slots[slot] = OpenSlot.of([*(value.said for value in values), *written], values)
                continue
            lists[slot] = {"values": [{"in": _literal(value.said), "out": i} for i, value in enumerate(values)]}
            if arguments and all(param.type is str and param.choices is None for param in arguments):
                copied.add(slot)
        self._read[name] = _Template(template, raw, example_file.lists, open_slots, frozenset(copied))
        return {"sentences": [_spoken_template(template.sentence)], "lists": lists}

    def _example_data(self, name: str, example: Example) -> dict[str, Any]:
        """hassil's data for one written example: its words, each value copied from them a slot of that one value."""
        from hassil.util import remove_punctuation

        pieces: list[str] = []
        said: list[tuple[str, str]] = []
        lists: dict[str, Any] = {}
        at = 0
        for start, end in _said_places(example.user, _copied_values(self.pack, example)):
            slot = f"s{len(said)}"
            pieces += [spoken(example.user[at:start])[0], f"{{{slot}}}"]
            said.append((slot, example.user[start:end]))
            lists[slot] = {"values": [{"in": _literal(example.user[start:end]), "out": 0}]}
            at = end
        pieces.append(spoken(example.user[at:])[0])
        marked = remove_punctuation("".join(pieces))  # as a whole: "in {s0}?" loses its question mark
        sentence = "".join(
            piece if _EXAMPLE_SLOT.fullmatch(piece) else _HASSIL_SYNTAX.sub(r"\\\1", piece)
            for piece in _EXAMPLE_SLOT.split(marked)
        )
        self._read[name] = _Written(example, tuple(said))
        return {"sentences": [sentence], "lists": lists}

    def match(self, utterance: str) -> Calls | None:
        """The calls of ``utterance`` when it is a whole sentence of the pack with one first reading; None when it
        is none, is ambiguous, or is longer than the matcher looks at."""
        said = " ".join(utterance.split())
        if not said or len(said.split()) > MAX_WORDS:
            return None
        found = list(self.matches(said, time.perf_counter() + self.max_match_s))
        if any(match.written for match in found):
            found = [match for match in found if match.written]
        if not found:
            return None
        fewest = min(match.open_words for match in found)
        readings = {match.calls for match in found if match.open_words == fewest}
        if len(readings) > 1:
            where = sorted({match.where for match in found if match.open_words == fewest})
            log.info("instant: %r is ambiguous (%s), left to the router", said, ", ".join(where))
            return None
        return readings.pop()

    def matches(self, said: str, deadline: float = float("inf")) -> Iterator[Match]:
        """Every sentence of the pack that ``said`` (its whitespace normalised) is, with its calls; no more once
        the deadline has passed."""
        from hassil import recognize_all

        text, starts, ends = spoken(said)
        written = self._examples.get(" ".join(spoken_words(said)))
        for intents in [*([written] if written is not None else []), *self._templates]:
            for result in recognize_all(text, intents):
                if time.perf_counter() > deadline:
                    log.info("instant: gave up on %r, left to the router", said)
                    return
                heard = {
                    entity.name: said[starts[entity.text_span[0]] : ends[entity.text_span[1] - 1]]
                    for entity in result.entities_list
                    if entity.text_span is not None and entity.text_span[1] > entity.text_span[0]
                }
                if len(heard) == len(result.entities_list):
                    match = self._match(self._read[result.intent.name], result, heard, said)
                    if match is not None:
                        yield match
            if time.perf_counter() > deadline:
                log.info("instant: gave up on %r, left to the router", said)
                return

    def _match(
        self, read: _Template | _Written, result: RecognizeResult, heard: dict[str, str], said: str
    ) -> Match | None:
        """The calls of one hassil result; None when its words make no call of the pack for that sentence (open
        words out of shape, a value that does not fit the skill, a sentence that follows on another skill)."""
        try:
            if isinstance(read, _Template):
                call = self._template_call(read, result, heard)
                if call is None:
                    return None
                calls, where = Calls([call]), read.template.where
                open_words = sum(len(spoken_words(heard[slot])) for slot in heard if slot in read.open_slots)
            else:
                copied = {value: value if is_span(value, said) else heard[slot] for slot, value in read.said}
                calls, where, open_words = _copied(read.example.calls, copied), read.example.where, 0
            for call in calls:
                self.pack.skills[call.name].check_spans(call, said)  # a said value is words of this utterance
        except CallError:
            return None
        if follows_on(calls, said, self.pack):
            return None
        return Match(calls, open_words, where, written=isinstance(read, _Written))

    def _template_call(self, read: _Template, result: RecognizeResult, heard: dict[str, str]) -> Call | None:
        """The template's call with the values said (see the module docstring); None when the words of an open slot
        are not like its examples. CallError when the values do not fit the skill."""
        chosen: dict[str, SlotValue] = {}
        for entity in result.entities_list:
            words, values = heard[entity.name], read.lists[entity.name]
            if entity.name not in read.open_slots:
                value = values[int(entity.value)]
                copy = entity.name in read.copied and value.value == value.said  # said as written: copied
                copy = copy and utterance_key(words) == utterance_key(value.said)  # "3" for "three" is the list's 3
                chosen[entity.name] = SlotValue(words, words) if copy else value
                continue
            example = next((value for value in values if spoken_words(value.said) == spoken_words(words)), None)
            if example is not None:
                chosen[entity.name] = SlotValue(words, _within(example.value, words))
            elif read.open_slots[entity.name].fits(words, self._commands):
                chosen[entity.name] = SlotValue(words, read.open_slots[entity.name].value(words))
            else:
                return None
        try:
            return fill(read.template, read.raw, chosen, self.pack)
        except TemplateError as error:
            raise CallError(str(error)) from None


def _ignore(call: Call) -> None:
    """The default :data:`~assistant.routing.router.OnCall`: nobody acts before routing ends."""


class InstantRouter:
    """A :class:`~assistant.routing.router.Router` that answers the pack's own sentences itself and hands
    everything else, follow-ups and partial transcripts to ``router`` (see the module docstring)."""

    def __init__(self, router: Router, matcher: InstantMatcher):
        self.router, self.matcher = router, matcher

    def route(
        self, utterance: str, context: Exchange | None = None, on_call: OnCall = _ignore, allow_unfinished: bool = False
    ) -> Routed:
        if context is None and not allow_unfinished:
            start = time.perf_counter()
            calls = self.matcher.match(utterance)
            if calls is not None:
                for call in calls:
                    on_call(call)
                return Routed(calls, str(calls), elapsed_ms(start), path=INSTANT)
        return self.router.route(utterance, context, on_call, allow_unfinished)

    def prepare(self, context: Exchange) -> None:
        self.router.prepare(context)


def _slot_arguments(pack: SkillPack, template: Template) -> tuple[RawCall, dict[str, list[Parameter]]]:
    """A template's call, and the arguments each slot is said in; TemplateError naming the template when its call
    names no skill of the pack."""
    try:
        raw = parse_call(template.call)
    except CallError as error:
        raise TemplateError(f"{template.where}: {error}") from None
    skill = pack.skills.get(raw.name)
    if skill is None:
        raise TemplateError(f"{template.where}: unknown skill {raw.name!r}")
    params = {param.name: param for param in skill.parameters}
    feeds: dict[str, list[Parameter]] = {}
    for key, value in raw.keywords:
        for slot in SLOT.findall(value) if isinstance(value, str) and key in params else []:
            feeds.setdefault(slot, []).append(params[key])
    return raw, feeds


def _copied_values(pack: SkillPack, example: Example) -> list[str]:
    """The values of a written example's string arguments (no Literal) that are words of its sentence: copied
    from the words heard, as a Span's always is ("How many legs does a spider have?" asks the words said)."""
    strings = {
        (name, param.name)
        for name, skill in pack.skills.items()
        for param in skill.parameters
        if param.type is str and param.choices is None
    }
    return [
        value
        for call in example.calls
        for key, value in call.args
        if isinstance(value, str) and (call.name, key) in strings and is_span(value, example.user)
    ]


def _said_values(pack: SkillPack, calls: Calls) -> list[str]:
    """The values of the calls' Span arguments: words copied from the utterance."""
    spans = {(name, param.name) for name, skill in pack.skills.items() for param in skill.parameters if param.span}
    return [v for call in calls for key, v in call.args if isinstance(v, str) and (call.name, key) in spans]


def _said_places(text: str, values: list[str]) -> list[tuple[int, int]]:
    """Where each value first stands in ``text`` as whole words, the longest first, none overlapping, in order."""
    taken: list[tuple[int, int]] = []
    for value in sorted(set(values), key=len, reverse=True):
        free = (s for s in _word_starts(text, value) if all(s + len(value) <= a or s >= b for a, b in taken))
        start = next(free, None)
        if start is not None:
            taken.append((start, start + len(value)))
    return sorted(taken)


def _copied(calls: Calls, copied: dict[str, str]) -> Calls:
    """The calls with each said value in ``copied`` replaced by the words heard in its place."""
    return Calls(
        Call(call.name, tuple((key, copied.get(v, v) if isinstance(v, str) else v) for key, v in call.args))
        for call in calls
    )


def _span_values(pack: SkillPack, files: Iterable[ExampleFile]) -> dict[tuple[str, str], set[str]]:
    """The said values of each (skill, Span argument) in the written examples: examples of that argument."""
    spans = {(name, param.name) for name, skill in pack.skills.items() for param in skill.parameters if param.span}
    values: dict[tuple[str, str], set[str]] = {}
    for call in (call for f in files for example in f.all_examples for call in example.calls):
        for key, value in call.args:
            if isinstance(value, str) and (call.name, key) in spans:
                values.setdefault((call.name, key), set()).add(value)
    return values


def _command_words(pack: SkillPack, files: Iterable[ExampleFile]) -> frozenset[str]:
    """The words the pack says its commands with: its templates' words and closed lists, and its written
    examples outside their said values. An open slot takes one of them only where its examples do."""
    words: set[str] = set()
    for example_file in files:
        for template in example_file.templates:
            words.update(spoken_words(SLOT.sub(" ", _HASSIL_SYNTAX.sub(" ", template.sentence))))
            _, feeds = _slot_arguments(pack, template)
            for slot in set(SLOT.findall(template.sentence)):
                if not any(param.span for param in feeds.get(slot, [])):
                    words.update(
                        word for value in example_file.lists.get(slot, []) for word in spoken_words(value.said)
                    )
        for example in example_file.all_examples:
            places = _said_places(example.user, _said_values(pack, example.calls))
            ends = [0, *(end for _, end in places)]
            starts = [*(start for start, _ in places), len(example.user)]
            words.update(word for a, b in zip(ends, starts, strict=True) for word in spoken_words(example.user[a:b]))
    return frozenset(words)


def _within(value: str, words: str) -> str:
    """``value`` as it stands in the words heard (their case), or the words where it is not among them: a said
    value is always words of the utterance."""
    starts = _word_starts(words.casefold(), value.casefold())
    return words[starts[0] : starts[0] + len(value)] if starts and len(words) == len(words.casefold()) else words


def _word_starts(text: str, value: str) -> list[int]:
    """Where ``value`` stands in ``text`` as whole words (no letter, digit or underscore joined to either end)."""

    def word(char: str) -> bool:
        return char.isalnum() or char == "_"

    starts, start = [], text.find(value) if value else -1
    while start >= 0:
        end = start + len(value)
        if not (start > 0 and word(text[start - 1]) and word(value[0])) and not (
            end < len(text) and word(text[end]) and word(value[-1])
        ):
            starts.append(start)
        start = text.find(value, start + 1)
    return starts
