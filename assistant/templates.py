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
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.calls import Call, CallError, RawCall, parse_call
from assistant.pack import SkillPack

SLOT = re.compile(r"\{([A-Za-z_][\w-]*)\}")
LIST_LINE = re.compile(r"^\{([A-Za-z_][\w-]*)\}\s*=\s*(.+)$")
MAX_FORMS = 20000  # sentence forms read from one template before sampling among them


class TemplateError(ValueError):
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


def sentence_forms(template: Template) -> list[str]:
    """Every wording of the template (alternatives and optionals), slots still as ``{name}``."""
    from hassil.errors import HassilError
    from hassil.parse_expression import parse_sentence
    from hassil.parser import ParseError
    from hassil.sample import sample_expression

    try:
        sentence = parse_sentence(template.sentence)
        forms = itertools.islice(sample_expression(sentence.expression, expand_lists=False), MAX_FORMS)
        return sorted({" ".join(form.split()) for form in forms if form.strip()})
    except (ParseError, HassilError, ValueError, IndexError) as error:
        raise TemplateError(f"{template.where}: not a valid template ({error}): {template.sentence!r}") from None


def expand(template: Template, lists: dict[str, list[SlotValue]], pack: SkillPack, rng: random.Random,
           limit: int) -> Iterator[tuple[str, Call]]:
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
    for name in sorted({slot for _, value in raw.keywords if isinstance(value, str) for slot in SLOT.findall(value)} - said):
        raise TemplateError(f"{template.where}: the call uses {{{name}}}, which the template never says")
    for form in rng.sample(forms, min(limit, len(forms))):
        chosen = {name: rng.choice(lists[name]) for name in dict.fromkeys(SLOT.findall(form))}
        utterance = " ".join(SLOT.sub(lambda m: chosen[m.group(1)].said, form).split())
        yield utterance, _fill(template, raw, chosen, pack)


def _fill(template: Template, raw: RawCall, chosen: dict[str, SlotValue], pack: SkillPack) -> Call:
    """The call template with the chosen values; arguments whose slots were not said are dropped."""
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
