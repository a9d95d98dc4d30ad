"""Numbers said in words ("twelve hundred", "1 million twelve hundred", "two and a half"), read by a grammar.

word2number reads any run of number words, skipping the words it does not know: "three quarters" is 3,
"two million three thousand" is 2004003, "400 thousand" is 1000, and "1 million twelve hundred" raises
IndexError. A skill that acts on a number (a timer's minutes, an operand) needs the number said, or None
when the words are not one number, so they can be refused or asked about. word2number's table of words
and their values is kept: the grammar is what is new.
"""

from __future__ import annotations

import re
from fractions import Fraction

from word2number import w2n

_VALUES: dict[str, int] = {word: value for word, value in w2n.american_number_system.items() if isinstance(value, int)}
_BELOW_TWENTY = {word: value for word, value in _VALUES.items() if value < 20}
_TENS = {word: value for word, value in _VALUES.items() if 20 <= value < 100}
_SCALES = {word: value for word, value in _VALUES.items() if value >= 1000}
NUMBER_WORDS = frozenset(w2n.american_number_system)  # "one" ... "ninety", "hundred", "thousand" ..., "point"
FRACTION_WORDS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4}
LONGEST_DIGITS = 30  # a number written in digits, inside a spoken one; longer is no number anyone says
_DIGIT_WORDS = {word: str(value) for word, value in _BELOW_TWENTY.items() if value < 10} | {"oh": "0"}
_DIGITS = re.compile(rf"\d{{1,{LONGEST_DIGITS}}}(?:\.\d{{1,{LONGEST_DIGITS}}})?")


def spoken_amount(text: str) -> Fraction | None:
    """A number, a fraction or both: "twelve", "1.5", "three quarters", "a half", "two and a third",
    "1 and a half"; None when the words are not one amount."""
    words = text.casefold().replace("-", " ").split()
    fraction = _fraction(words)
    if fraction is not None:
        return fraction
    for at in range(len(words) - 1, 0, -1):
        if words[at] == "and" and (fraction := _fraction(words[at + 1 :])) is not None:
            whole = spoken_number(" ".join(words[:at]))
            return None if whole is None else whole + fraction
    return spoken_number(text)


def spoken_number(text: str) -> Fraction | None:
    """The number in words and digits: "twenty five", "one hundred and two", "twelve hundred", "a thousand",
    "400 thousand", "1.5 million", "three point one four"; None when the words are not one number
    ("two three", "thousand million", "point")."""
    words = text.casefold().replace("-", " ").split()
    if "point" not in words:
        return _whole(words)
    at = words.index("point")
    decimals = [_DIGIT_WORDS.get(word, word) for word in words[at + 1 :]]
    if not decimals or not all(re.fullmatch(r"\d", digit) for digit in decimals):
        return None
    whole = _whole(words[:at]) if at else Fraction(0)
    if whole is None or whole.denominator != 1:
        return None
    return whole + Fraction(f"0.{''.join(decimals)}")


def _fraction(words: list[str]) -> Fraction | None:
    """'half', 'a quarter', 'one half', 'three quarters', 'two thirds'; None for anything else."""
    if not words or words[-1] not in FRACTION_WORDS:
        return None
    count: Fraction | None = Fraction(1)
    if words[:-1] not in ([], ["a"], ["an"]):
        count = spoken_number(" ".join(words[:-1]))
    if count is None or count.denominator != 1 or count < 1:
        return None
    return count / FRACTION_WORDS[words[-1]]


def _whole(words: list[str]) -> Fraction | None:
    """A number without "point": groups below a thousand, each before a scale larger than the next's."""
    if not words:
        return None
    total, group, last_scale = Fraction(0), [], 0
    for word in words:
        if word not in _SCALES:
            group.append(word)
            continue
        scale = _SCALES[word]
        count = _group(group, first=not last_scale) if group or not last_scale else None
        if count is None or count == 0 or (last_scale and scale >= last_scale):
            return None
        total, group, last_scale = total + count * scale, [], scale
    if not group:
        return total
    rest = _group(group, first=not last_scale)
    if rest is None or (last_scale and (rest >= last_scale or rest.denominator != 1)):
        return None
    return total + rest


def _group(words: list[str], first: bool) -> Fraction | None:
    """The count before a scale, or after the last one: "twelve", "a", "400", "1.5", "two hundred and five",
    "twelve hundred"; nothing at all counts one before the first scale ("thousand" is a thousand)."""
    if not first and words[:1] == ["and"]:  # "one thousand and five"
        words = words[1:]
    if not words:
        return Fraction(1) if first else None
    if len(words) == 1 and _DIGITS.fullmatch(words[0]):
        return Fraction(words[0])
    if len(words) == 1 and words[0] in ("a", "an"):
        return Fraction(1)
    if "hundred" not in words:
        below = _below_hundred(words)
        return None if below is None else Fraction(below)
    at = words.index("hundred")
    head, rest = words[:at], words[at + 1 :]
    if head == ["a"] or (first and not head):  # "a hundred", and "hundred" before any scale
        hundreds: int | None = 1
    elif len(head) == 1 and head[0].isdigit() and len(head[0]) < 3:
        hundreds = int(head[0])
    else:
        hundreds = _below_hundred(head)
    if rest[:1] == ["and"]:
        rest = rest[1:]
    below = _below_hundred(rest) if rest else 0
    if not hundreds or below is None:
        return None
    return Fraction(hundreds * 100 + below)


def _below_hundred(words: list[str]) -> int | None:
    """'seven', 'nineteen', 'forty', 'forty two'; None for anything else ("two three", "forty fifty")."""
    if len(words) == 1:
        return _BELOW_TWENTY.get(words[0], _TENS.get(words[0]))
    if len(words) == 2 and words[0] in _TENS and words[1] in _BELOW_TWENTY and 0 < _BELOW_TWENTY[words[1]] < 10:
        return _TENS[words[0]] + _BELOW_TWENTY[words[1]]
    return None
