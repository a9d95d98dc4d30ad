"""Amounts said with their unit ("three and a half miles", "100 degrees fahrenheit", "5 feet 10 inches"),
read and converted to another unit of the same kind: length, weight, volume, temperature, speed and time.

Every unit is a factor (and, for temperatures, an offset) to its kind's base unit, kept as a Fraction so
that a conversion and back is exact. Volumes are US customary (a cup is 236.6 ml), as recipes say them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from assistant.runtime.spoken_numbers import spoken_amount

EXAMPLE = "I can convert lengths, weights, volumes, temperatures, speeds and times, like 3 miles in kilometres."


@dataclass(frozen=True)
class Unit:
    """A unit: its kind, how to name it, and its value in the kind's base unit: ``amount * factor + offset``."""

    kind: str
    singular: str
    plural: str
    factor: Fraction
    offset: Fraction = Fraction(0)

    def name(self, amount: float) -> str:
        return self.singular if amount == 1 else self.plural


def _unit(
    kind: str, singular: str, factor: str | int | Fraction, plural: str = "", offset: Fraction = Fraction(0)
) -> Unit:
    return Unit(kind, singular, plural or f"{singular}s", Fraction(factor), offset)


FAHRENHEIT_OFFSET = Fraction("273.15") - 32 * Fraction(5, 9)
DEGREES = {
    "celsius": _unit("temperature", "degree Celsius", 1, "degrees Celsius", Fraction("273.15")),
    "fahrenheit": _unit("temperature", "degree Fahrenheit", Fraction(5, 9), "degrees Fahrenheit", FAHRENHEIT_OFFSET),
    "kelvin": _unit("temperature", "kelvin", 1, "kelvin"),
}
FLUID_OUNCE = _unit("volume", "fluid ounce", "0.0295735295625")
UNITS: dict[str, Unit] = {
    "millimetre": _unit("length", "millimetre", "0.001"),
    "centimetre": _unit("length", "centimetre", "0.01"),
    "metre": _unit("length", "metre", 1),
    "kilometre": _unit("length", "kilometre", 1000),
    "inch": _unit("length", "inch", "0.0254", "inches"),
    "foot": _unit("length", "foot", "0.3048", "feet"),
    "yard": _unit("length", "yard", "0.9144"),
    "mile": _unit("length", "mile", "1609.344"),
    "nautical mile": _unit("length", "nautical mile", 1852),
    "milligram": _unit("weight", "milligram", "0.000001"),
    "gram": _unit("weight", "gram", "0.001"),
    "kilogram": _unit("weight", "kilogram", 1),
    "tonne": _unit("weight", "tonne", 1000),
    "ounce": _unit("weight", "ounce", "0.028349523125"),
    "pound": _unit("weight", "pound", "0.45359237"),
    "stone": _unit("weight", "stone", "6.35029318", "stone"),
    "ton": _unit("weight", "ton", "907.18474"),
    "millilitre": _unit("volume", "millilitre", "0.001"),
    "centilitre": _unit("volume", "centilitre", "0.01"),
    "litre": _unit("volume", "litre", 1),
    "cubic metre": _unit("volume", "cubic metre", 1000),
    "teaspoon": _unit("volume", "teaspoon", "0.00492892159375"),
    "tablespoon": _unit("volume", "tablespoon", "0.01478676478125"),
    "fluid ounce": FLUID_OUNCE,
    "cup": _unit("volume", "cup", "0.2365882365"),
    "pint": _unit("volume", "pint", "0.473176473"),
    "quart": _unit("volume", "quart", "0.946352946"),
    "gallon": _unit("volume", "gallon", "3.785411784"),
    "kilometre per hour": _unit("speed", "kilometre per hour", Fraction(1000, 3600), "kilometres per hour"),
    "mile per hour": _unit("speed", "mile per hour", Fraction("1609.344") / 3600, "miles per hour"),
    "metre per second": _unit("speed", "metre per second", 1, "metres per second"),
    "foot per second": _unit("speed", "foot per second", "0.3048", "feet per second"),
    "knot": _unit("speed", "knot", Fraction(1852, 3600)),
    "millisecond": _unit("time", "millisecond", "0.001"),
    "second": _unit("time", "second", 1),
    "minute": _unit("time", "minute", 60),
    "hour": _unit("time", "hour", 3600),
    "day": _unit("time", "day", 86400),
    "week": _unit("time", "week", 7 * 86400),
    "month": _unit("time", "month", Fraction(36525, 1200) * 86400),  # a twelfth of an average year
    "year": _unit("time", "year", Fraction(36525, 100) * 86400),
    **DEGREES,
}
# Other ways to say each unit: abbreviations, American spellings, plurals; every name is also its own plural.
_SPELLINGS = {
    "millimetre": "mm millimeter",
    "centimetre": "cm centimeter",
    "metre": "m meter",
    "kilometre": "km k kilometer klick",
    "inch": "in",
    "foot": "ft feet",
    "yard": "yd yds",
    "mile": "mi",
    "milligram": "mg",
    "gram": "g gramme",
    "kilogram": "kg kgs kilo kilogramme",
    "tonne": "metric_ton",
    "ounce": "oz",
    "pound": "lb lbs",
    "ton": "short_ton",
    "millilitre": "ml mls milliliter",
    "centilitre": "cl centiliter",
    "litre": "l liter",
    "cubic metre": "cubic_meter",
    "teaspoon": "tsp tsps",
    "tablespoon": "tbsp tbsps",
    "fluid ounce": "fl_oz",
    "kilometre per hour": "km/h kph kmh km_per_hour kilometre_an_hour kilometer_per_hour kilometer_an_hour",
    "mile per hour": "mph mile_an_hour",
    "metre per second": "m/s meter_per_second",
    "knot": "kt kts",
    "millisecond": "ms msec",
    "second": "s sec secs",
    "minute": "min mins",
    "hour": "h hr hrs",
    "year": "yr yrs",
    "foot per second": "feet_per_second",
    "celsius": "c centigrade",
    "fahrenheit": "f",
}


def _plural(word: str) -> str:
    """The plural of a unit's last word ("inches", "feet" is listed); a per-unit's first word ("miles per hour")."""
    if " per " in word:
        head, _, tail = word.partition(" per ")
        return f"{_plural(head)} per {tail}"
    if " an " in word:
        head, _, tail = word.partition(" an ")
        return f"{_plural(head)} an {tail}"
    return word + ("es" if word.endswith(("ch", "sh")) else "s")


def _names() -> dict[tuple[str, ...], str]:
    names: dict[tuple[str, ...], str] = {}
    for unit, spellings in ((unit, f"{unit.replace(' ', '_')} {_SPELLINGS.get(unit, '')}") for unit in UNITS):
        for spelling in spellings.split():
            said = spelling.replace("_", " ")
            for form in (said, _plural(said), said.replace("metre", "meter"), _plural(said).replace("metre", "meter")):
                names[tuple(form.split())] = unit
    return names


NAMES = _names()
LONGEST_NAME = max(len(name) for name in NAMES)
DEGREE_WORDS = ("degree", "degrees")
NEXT_UNIT = {"foot": "inch", "pound": "ounce", "stone": "pound"}  # what a bare number after one counts in
AMBIGUOUS_OUNCE = "ounce"  # a weight, unless the other side is a volume ("how many ounces in a cup")


@dataclass(frozen=True)
class Quantity:
    """An amount read from words: each (amount, unit) part as said ("5 feet 10 inches" has two)."""

    parts: tuple[tuple[Fraction, str], ...]

    @property
    def kind(self) -> str:
        return UNITS[self.parts[0][1]].kind

    def base(self, units: dict[str, Unit] = UNITS) -> Fraction:
        """The amount in its kind's base unit (metres, kilograms, litres, kelvin, metres a second, seconds)."""
        return sum((amount * units[unit].factor + units[unit].offset for amount, unit in self.parts), Fraction(0))

    def said(self, units: dict[str, Unit] = UNITS) -> str:
        return " ".join(f"{number(amount)} {units[unit].name(float(amount))}" for amount, unit in self.parts)


class NotConvertible(ValueError):
    """Why an amount cannot be converted, as a sentence for the answer."""


def words(text: str) -> list[str]:
    """The words of an amount or unit: lower case, digits apart from letters ("5km"), "°F" as "degrees f"."""
    text = text.casefold().replace("°", " degrees ").replace("-", " ")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)
    text = re.sub(r"\bfl\.?\s*oz\b", "fl oz", text)
    return re.findall(r"\d+(?:\.\d+)?|[a-z]+/[a-z]+|[a-z]+(?:'[a-z]+)?", text)


def find_unit(said: str) -> str | None:
    """The unit that a target such as "kilometres", "km/h" or "degrees celsius" names; None if none does."""
    tokens = [token for token in words(said) if token not in ("the", "to", "into", "in")]
    if tokens[:1] and tokens[0] in DEGREE_WORDS and len(tokens) > 1:
        tokens = tokens[1:]
    unit = NAMES.get(tuple(tokens))
    if unit is None and tokens in (["degree"], ["degrees"]):
        return "degrees"
    return unit


def read_quantity(said: str) -> Quantity:
    """The amount and unit of "3 miles", "a pound", "two and a half cups", "minus 40 degrees", "5 feet 10
    inches", "a mile and a half", "half a litre"; NotConvertible saying why when the words are not one."""
    tokens = words(said)
    parts: list[tuple[Fraction, str]] = []
    amount: list[str] = []
    at = 0
    while at < len(tokens):
        unit, length = _unit_at(tokens, at)
        if unit is None:
            amount.append(tokens[at])
            at += 1
            continue
        if parts and amount[:1] == ["and"]:
            amount = amount[1:]
        value = _amount(amount)
        if value is None:
            raise NotConvertible(f"I don't understand the amount {' '.join(amount)!r}. {EXAMPLE}")
        parts.append((value, unit))
        amount, at = [], at + length
    if not parts:
        raise NotConvertible(f"I don't know which unit {' '.join(said.split())!r} is in. {EXAMPLE}")
    if amount and parts[-1][1] in NEXT_UNIT and amount[0] != "and":  # "six foot two"
        value = _amount(amount)
        if value is not None:
            parts.append((value, NEXT_UNIT[parts[-1][1]]))
            amount = []
    if amount:  # "a mile and a half"
        fraction = spoken_amount(" ".join(amount[1:])) if amount[0] == "and" else None
        if fraction is None or fraction >= 1:
            raise NotConvertible(f"I don't understand {' '.join(said.split())!r} as an amount. {EXAMPLE}")
        parts[-1] = (parts[-1][0] + fraction, parts[-1][1])
    kinds = {UNITS[unit].kind if unit in UNITS else "temperature" for _, unit in parts}
    if len(kinds) > 1 or (len(parts) > 1 and "temperature" in kinds):
        raise NotConvertible(f"I can't add up {' '.join(said.split())!r} as one amount.")
    return Quantity(tuple(parts))


def _unit_at(tokens: list[str], at: int) -> tuple[str | None, int]:
    """The longest unit name starting at ``tokens[at]`` and how many words it takes."""
    for length in range(min(LONGEST_NAME, len(tokens) - at), 0, -1):
        key = tuple(tokens[at : at + length])
        if key in NAMES:
            return NAMES[key], length
        if length > 1 and key[0] in DEGREE_WORDS and key[1:] in NAMES and UNITS[NAMES[key[1:]]].kind == "temperature":
            return NAMES[key[1:]], length
    if tokens[at] in DEGREE_WORDS:
        return "degrees", 1
    return None, 0


def _amount(said: list[str]) -> Fraction | None:
    """'3', 'a', 'three and a half', 'half a', 'three quarters of a', 'a couple of', 'minus 40'; 1 if nothing is."""
    sign = -1 if said[:1] in (["minus"], ["negative"]) else 1
    said = [word for word in said[1 if sign < 0 else 0 :] if word not in ("of", "about", "around", "roughly")]
    if said[:2] == ["a", "couple"]:
        said = ["2", *said[2:]]
    if said and said[-1] in ("a", "an"):
        said = said[:-1]
    if not said:
        return Fraction(sign)
    value = spoken_amount(" ".join(said))
    return None if value is None else sign * value


def convert(quantity: str, unit: str) -> str:
    """The answer to converting ``quantity`` into ``unit``: "3 miles is 4.83 kilometres.", or why it cannot be."""
    try:
        read = read_quantity(quantity)
        target = find_unit(unit)
        if target is None:
            raise NotConvertible(f"I don't know the unit {' '.join(unit.split())!r}. {EXAMPLE}")
        units = _meant(read, target)
        if target == "degrees":
            target = _other_scale(read)
        if units[read.parts[0][1]].kind != units[target].kind:
            source, into = units[read.parts[0][1]], units[target]
            raise NotConvertible(
                f"I can't convert {source.plural} to {into.plural}: one is a {source.kind}, the other a {into.kind}."
            )
        result = (read.base(units) - units[target].offset) / units[target].factor
    except NotConvertible as error:
        return str(error)
    return f"{read.said(units)} is {number(result)} {units[target].name(float(result))}."


def _meant(quantity: Quantity, target: str) -> dict[str, Unit]:
    """The units as meant here: "ounce" a fluid ounce beside a volume, bare "degrees" the other scale."""
    kinds = {UNITS[unit].kind for _, unit in quantity.parts if unit in UNITS} | (
        {UNITS[target].kind} if target in UNITS else set()
    )
    units = dict(UNITS)
    if "volume" in kinds:
        units[AMBIGUOUS_OUNCE] = FLUID_OUNCE
    said = [unit for _, unit in quantity.parts]
    if said == ["degrees"]:
        scale = {"celsius": "fahrenheit", "fahrenheit": "celsius"}.get(target)
        if scale is None:
            raise NotConvertible("Which degrees do you mean: Celsius or Fahrenheit?")
        units["degrees"] = UNITS[scale]
    return units


def _other_scale(quantity: Quantity) -> str:
    """The scale meant by "in degrees": the usual other one of Celsius and Fahrenheit."""
    scale = {"celsius": "fahrenheit", "fahrenheit": "celsius"}.get(quantity.parts[0][1])
    if scale is None:
        raise NotConvertible("Which degrees do you mean: Celsius or Fahrenheit?")
    return scale


def number(value: Fraction | float) -> str:
    """A number for reading aloud: two decimals, three figures below one, no trailing zeros ("4.83", "0.0353")."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = 2 if abs(value) >= 1 else min(12, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def quantity_key(said: str) -> tuple[str, float] | None:
    """What a ``quantity`` resolves to when calls are scored ("a pound" and "1 lb" alike); None if unread."""
    try:
        read = read_quantity(said)
    except NotConvertible:
        return None
    if any(unit not in UNITS for _, unit in read.parts):
        return ("degrees", float(read.parts[0][0]))
    return (read.kind, round(float(read.base()), 9))
