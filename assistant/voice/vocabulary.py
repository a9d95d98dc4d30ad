"""What the recogniser is told to expect: the skill pack's closed vocabularies, written like a transcript.

Whisper reads a prompt as text said just before the audio, so the words in it are heard more readily:
a coffee pack's "americano", "twelve ounce" and "soy milk" instead of "American", "12 ounce" and "so
email". The prompt is derived from the pack alone (one source of truth): each ``Literal`` parameter's
string choices, one sentence per parameter, built once per pack. Open-ended values (places, notes,
program names said freely) are never listed: a prompt that names some would pull every other one
toward them. Kept short (:data:`MAX_PROMPT_TOKENS`), because a prompted Whisper also "hears" its
prompt in silence and noise (faster-whisper issue 853); :func:`copies_prompt` spots that.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable

from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import SkillPack

MAX_PROMPT_TOKENS = 100  # Whisper keeps up to 223; a longer list reads as a list (commas, capitals) in the text
MIN_COPIED_WORDS = 4  # a transcript of this many words or more that is a run of the prompt's words is the prompt
CALENDAR_NAMES = {name.casefold() for name in (*calendar.day_name, *calendar.month_name) if name} - {"may"}


def vocabulary(pack: SkillPack) -> list[list[str]]:
    """The pack's closed vocabularies: each ``Literal`` parameter's string choices, shortest first, each
    value kept only when it says a word no value before it said ("a bit of sugar" after "a little bit of
    milk" and "sugar"), so that the words fit the prompt."""
    lists: list[list[str]] = []
    words: set[str] = set()
    for skill in pack.skills.values():
        for parameter in skill.parameters:
            kept: list[str] = []
            for choice in sorted(
                (c for c in parameter.choices or () if isinstance(c, str)), key=lambda c: len(c.split())
            ):
                said = set(_words(choice))
                if not said <= words:
                    kept.append(_written(choice))
                    words |= said
            if kept:
                lists.append(kept)
    return lists


def recognition_prompt(pack: SkillPack, count_tokens: Callable[[str], int]) -> str:
    """The pack's vocabularies as sentences ("Small, medium, large."), the shortest first, up to
    :data:`MAX_PROMPT_TOKENS` by ``count_tokens`` (the recogniser's tokenizer): a list that does not fit
    whole keeps the values that fit, so no short list is crowded out by a long one. A value of one token
    ("milk", "Monday") is left out: Whisper writes such words unprompted, and a list of them is what it copies
    into speech that said none of them. "" for a pack without any other."""
    prompt = ""
    told = [kept for values in vocabulary(pack) if (kept := [value for value in values if count_tokens(value) > 1])]
    for values in sorted(told, key=lambda values: count_tokens(_sentence(values))):
        fitted = prompt
        for end in range(1, len(values) + 1):
            longer = f"{prompt} {_sentence(values[:end])}".strip()
            if count_tokens(longer) > MAX_PROMPT_TOKENS:
                break
            fitted = longer
        prompt = fitted
    return prompt


def copies_prompt(text: str, prompt: str) -> bool:
    """Whether ``text`` is the prompt heard back: :data:`MIN_COPIED_WORDS` or more words that run in the
    prompt as they do in the text (case and punctuation aside) across two of its values or more. One value
    alone ("a little bit of milk") may well be what was said."""
    said = _words(text)
    items = [words for item in re.split(r"[,.]", prompt) if (words := _words(item))]
    told = [word for words in items for word in words]
    item_of = [index for index, words in enumerate(items) for _ in words]
    if len(said) < MIN_COPIED_WORDS:
        return False
    return any(
        told[start : start + len(said)] == said and item_of[start] != item_of[start + len(said) - 1]
        for start in range(len(told) - len(said) + 1)
    )


def _written(value: str) -> str:
    """A value as a transcript writes it: the calendar's names capitalised ("monday" is "Monday")."""
    return " ".join(word.capitalize() if word.casefold() in CALENDAR_NAMES else word for word in value.split())


def _sentence(values: list[str]) -> str:
    """``["small", "Monday"]`` as "Small, Monday."."""
    text = ", ".join(values)
    return text[:1].upper() + text[1:] + "."


def _words(text: str) -> list[str]:
    return utterance_key(text).split()
