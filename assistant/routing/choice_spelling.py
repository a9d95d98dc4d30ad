"""Words that spell one of the pack's choices almost as written, written as that choice before routing.

Whisper hears "ice mocha" for "iced mocha" and "dip coffee" for "drip coffee". A ``Literal`` parameter's
choice is chosen whole, so from such words the router takes the nearest choice it can see ("mocha") or
none at all. Before routing, a run of as many words as a choice of two words or more, spelt almost as
the choice is (rapidfuzz ratio from ``[router] choice_spelling``, case and punctuation aside), is
written as the choice. Words that say a choice already are kept as they are, and a choice of one word
is never written in: one letter turns many short words into another ("large", "barge").
"""

from __future__ import annotations

import re
from collections import defaultdict

from rapidfuzz import fuzz, process

from assistant.config import CHOICES_AS_HEARD
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import SkillPack

_WORD = re.compile(r"[\w']+")


class ChoiceSpelling:
    """The pack's choices of two words or more, by their number of words; built once per pack."""

    def __init__(self, pack: SkillPack, min_ratio: float) -> None:
        self.min_ratio = min_ratio
        self._choices: dict[int, dict[str, str]] = defaultdict(dict)  # words -> key -> the choice as written
        for skill in pack.skills.values():
            for parameter in skill.parameters:
                for choice in parameter.choices or ():
                    if isinstance(choice, str) and len(key := utterance_key(choice).split()) >= 2:
                        self._choices[len(key)][" ".join(key)] = choice

    def written(self, text: str) -> str:
        """``text`` with each run of words that spells a choice almost as written replaced by the choice; the
        closest runs first, none overlapping another or words that say a choice exactly."""
        if not self._choices or self.min_ratio >= CHOICES_AS_HEARD:
            return text
        words = list(_WORD.finditer(text))
        keys = [utterance_key(word.group()) for word in words]
        exact: set[int] = set()
        near: list[tuple[float, int, int, str]] = []  # ratio, first word, words, the choice
        for size, choices in self._choices.items():
            for first in range(len(words) - size + 1):
                run = " ".join(keys[first : first + size])
                if run in choices:
                    exact.update(range(first, first + size))
                    continue
                found = process.extractOne(run, choices.keys(), scorer=fuzz.ratio, score_cutoff=self.min_ratio)
                if found is not None:
                    near.append((found[1], first, size, choices[found[0]]))
        taken, replaced = exact, []
        for _, first, size, choice in sorted(near, key=lambda item: (-item[0], item[1])):
            span = set(range(first, first + size))
            if not span & taken:
                taken |= span
                replaced.append((words[first].start(), words[first + size - 1].end(), choice))
        for start, end, choice in sorted(replaced, reverse=True):
            text = text[:start] + choice + text[end:]
        return text
