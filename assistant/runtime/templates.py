"""Sentence templates in hassil's syntax, expanded into examples.

An example file may hold a ``#### Templates:`` section: slot lists, then template pairs::

    {city} = Berlin | new york | St. Louis
    {day} = tomorrow | on saturday => saturday

    ### User: (what's | what is) the weather [like] [in {city}] [{day}]
    ### Assistant: weather(location="{city}", day="{day}")

The user line is a hassil template: ``(a | b)`` alternatives, ``[word]`` optional words, ``{slot}``
a value from a list. A list value is said as written, or ``said => value`` when the call takes
another form than the words (a fixed vocabulary). In the call, a string argument made of slots
gets the values chosen for them; when a slot is left out of a sentence (it sat in ``[...]``), the
argument that uses it is left out of the call. Expansion is seeded and capped, so a data set
built twice from the same files is identical.

A template is bounded before hassil reads it (MAX_TEMPLATE_CHARS, MAX_TEMPLATE_DEPTH) and before
any sentence is made (MAX_FORMS, counted from its parse): hassil makes each nested group's
sentences in full, so "((a|b) (c|d) ...)" of 30 groups would make a billion.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.errors import VoxrouteError
from assistant.routing.calls import Call, CallError, RawCall, parse_call
from assistant.runtime.pack import SkillPack

if TYPE_CHECKING:
    from hassil.expression import Expression

SLOT = re.compile(r"\{([A-Za-z_][\w-]*)\}")
LIST_LINE = re.compile(r"^\{([A-Za-z_][\w-]*)\}\s*=\s*(.+)$")
MAX_FORMS = 20000  # sentences one template may say; the most a shipped one says is 2,688 (story)
MAX_FILE_FORMS = 50_000  # sentences of one file's templates together; the most a shipped file's say is 4,514
MAX_TEMPLATE_CHARS = 1000  # one template's sentence; the longest shipped one has 248 characters
MAX_TEMPLATE_DEPTH = 10  # brackets within brackets; hassil recurses per level (500 overflow), shipped ones nest 3


class TemplateError(VoxrouteError, ValueError):
    """A template, list or call template that cannot be used; the message starts with file:line."""


@dataclass(frozen=True)
class SlotValue:
    said: str
    value: str


@dataclass(frozen=True)
class Template:
    """One ``### User:`` template with its call template, and where it was written."""

    sentence: str
    call: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def parse_list_line(line: str) -> tuple[str, list[SlotValue]] | None:
    """``{name} = a | b => c`` as (name, values); None when the line is not a list definition."""
    match = LIST_LINE.match(line)
    if match is None:
        return None
    values = []
    for item in match.group(2).split("|"):
        said, arrow, value = (part.strip() for part in item.partition("=>"))
        if said:
            values.append(SlotValue(said, value if arrow else said))
    return match.group(1), values


def count_forms(template: Template) -> int:
    """How many sentences the template says (alternatives times optionals), counted from its parse
    before any is made; TemplateError naming it when it cannot be read or says too many."""
    return _parsed(template)[1]


def sentence_forms(template: Template) -> list[str]:
    """Every wording of the template (alternatives and optionals), slots still as ``{name}``."""
    from hassil.errors import HassilError
    from hassil.sample import sample_expression

    expression, _ = _parsed(template)
    try:
        return sorted(
            {" ".join(form.split()) for form in sample_expression(expression, expand_lists=False) if form.strip()}
        )
    except HassilError as error:  # a <rule>: example files define none
        raise TemplateError(f"{template.where}: not a valid template ({error}): {template.sentence!r}") from None


def _parsed(template: Template) -> tuple[Expression, int]:
    """The template's parse and how many sentences it says, once it is known to be small enough to read and
    expand: hassil makes each nested group's sentences in full, so "((a|b) (c|d) ...)" of 30 would make a billion."""
    from hassil.errors import HassilError
    from hassil.parse_expression import parse_sentence
    from hassil.parser import ParseError

    if (depth := _depth(template.sentence)) > MAX_TEMPLATE_DEPTH:
        raise TemplateError(f"{template.where}: brackets nested {depth} deep; the most is {MAX_TEMPLATE_DEPTH}")
    if len(template.sentence) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"{template.where}: a template of {len(template.sentence):,} characters; the most is {MAX_TEMPLATE_CHARS:,}"
        )
    try:
        expression = parse_sentence(template.sentence).expression
    except (ParseError, HassilError, ValueError, IndexError) as error:
        raise TemplateError(f"{template.where}: not a valid template ({error}): {template.sentence!r}") from None
    if (count := _count(expression)) > MAX_FORMS:
        raise TemplateError(
            f"{template.where}: a template of more than {MAX_FORMS:,} sentences (say a choice of values as a {{list}})"
        )
    return expression, count


def _depth(sentence: str) -> int:
    """How deep ( ) and [ ] nest, counted on the text: hassil's parser recurses once per level."""
    depth = deepest = 0
    for char in sentence:
        if char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    return deepest


def _count(expression: Expression) -> int:
    """The sentences hassil makes of ``expression`` (``expand_lists=False``), up to MAX_FORMS + 1."""
    from hassil.expression import Alternative, Permutation, Sequence

    if isinstance(expression, Alternative):  # (a | b), [a]
        return min(MAX_FORMS + 1, sum(_count(item) for item in expression.items))
    if isinstance(expression, (Sequence, Permutation)):  # a b, (a; b) in every order
        count = min(MAX_FORMS + 1, math.factorial(len(expression.items))) if isinstance(expression, Permutation) else 1
        for item in expression.items:
            count = min(MAX_FORMS + 1, count * _count(item))
        return count
    return 1  # a word, a {slot}


def expand(
    template: Template, lists: dict[str, list[SlotValue]], pack: SkillPack, rng: random.Random, limit: int
) -> Iterator[tuple[str, Call]]:
    """Up to ``limit`` (utterance, call) pairs from one template, chosen with ``rng``."""
    try:
        raw = parse_call(template.call)
    except CallError as error:
        raise TemplateError(f"{template.where}: {error}") from None
    forms = sentence_forms(template)
    said = {slot for form in forms for slot in SLOT.findall(form)}
    for name in sorted(said):
        if not lists.get(name):
            raise TemplateError(f"{template.where}: no list {{{name}}} in this file (write '{{{name}}} = a | b' above)")
    for name in sorted(
        {slot for _, value in raw.keywords if isinstance(value, str) for slot in SLOT.findall(value)} - said
    ):
        raise TemplateError(f"{template.where}: the call uses {{{name}}}, which the template never says")
    for form in rng.sample(forms, min(limit, len(forms))):
        chosen = {name: rng.choice(lists[name]) for name in dict.fromkeys(SLOT.findall(form))}
        utterance = " ".join(_say(form, chosen).split())
        yield utterance, fill(template, raw, chosen, pack)


def _say(form: str, chosen: dict[str, SlotValue]) -> str:
    """The sentence form with the chosen values said in its slots."""
    return SLOT.sub(lambda m: chosen[m.group(1)].said, form)


def fill(template: Template, raw: RawCall, chosen: dict[str, SlotValue], pack: SkillPack) -> Call:
    """The call template with the chosen values; arguments whose slots were not said are dropped. The one way a
    template's call is made: for the data set (:func:`expand`) and the instant path (assistant.routing.instant)."""
    keywords = []
    for key, value in raw.keywords:
        if isinstance(value, str) and SLOT.search(value):
            if not all(name in chosen for name in SLOT.findall(value)):
                continue
            value = SLOT.sub(lambda m: chosen[m.group(1)].value, value)
        keywords.append((key, value))
    skill = pack.skills.get(raw.name)
    try:
        if skill is None:
            raise CallError(f"unknown skill {raw.name!r} (known: {', '.join(pack.skills)})")
        return skill.bind(RawCall(raw.name, raw.positional, tuple(keywords)))
    except CallError as error:
        raise TemplateError(f"{template.where}: {error}") from None
