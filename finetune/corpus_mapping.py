"""The reviewed mapping from public NLU corpora's intents and slots to calls of the default pack.

``finetune/corpora_mapping.toml`` holds, for each intent of a corpus scheme (``hwu``: MASSIVE and
NLU-Evaluation-Data, which share SLURP's intents and ``[slot : words]`` annotation; ``clinc``:
CLINC150, intents without slots), rules tried in order; the first that applies labels the row. A
rule applies when its ``match`` regular expression matches the whole utterance (case aside;
``@name`` inserts ``[patterns] name`` as a named group, whose words fill a placeholder as a slot's
do), every slot it ``has`` is there, every annotated slot is used by its call, listed in its
``lists`` or ``ignore``-d (``["*"]``: all), and every listed slot's words are in their list. Its
outcome is one of:

* ``call``: a call template, ``weather(location="{place_name}", day="{date}")``: each argument is a
  fixed value or one placeholder, filled with a slot's words (leading ``[text] value_openings``
  such as "the" left out), a list's value for them (in the example files' list syntax, "tonight =>
  today"; an empty value leaves the argument out), ``{question}`` (the utterance without the
  fillers it opens with: ask's argument) or ``{expression}`` (the arithmetic with digits, as the
  math examples write it); an argument whose placeholder has no value is left out, as in the
  example files' templates;
* ``target = "cant_do"``: a request no skill of the pack can do (its call is the pack's refusal,
  ``cant_do()``), or ``"other"``: talk that asks nothing of it (the fallback, ``other()``);
* ``drop = "reason"``: a row that cannot be labelled safely, counted under that reason.

The call is then checked as the example files' reader checks one (signature, said values copied
from the utterance), and a row whose argument does not resolve (a place the gazetteer does not
know) is dropped. ``[broad]`` lists, per scheme, the intents that are every question of a kind
(``qa_factoid``), which the converter caps apart from the narrow ones. A file that does not fit is
one line naming the file and the key.
"""

from __future__ import annotations

import re
import tomllib
import warnings
from collections.abc import Callable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import ConfigError, read_small_text
from assistant.dialogue import after_wake_word
from assistant.errors import VoxrouteError
from assistant.routing.calls import Call, CallError, Calls, RawCall, parse_call
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import FALLBACK_SKILL, REFUSAL_SKILL, SkillPack
from assistant.runtime.resolution import unresolved
from assistant.runtime.templates import SLOT, parse_list_line
from skills.math import math_expression, to_expression

DEFAULT_MAPPING = Path(__file__).resolve().parent / "corpora_mapping.toml"
MAX_MAPPING_BYTES = 1 << 20  # the reviewed mapping has about 30 kB
SCHEMES = ("hwu", "clinc")
TARGETS = ("cant_do", "other")
TEXT_KEYS = ("assistant_names", "fillers", "value_openings", "math_openings", "math_endings")
RULE_KEYS = ("match", "has", "call", "target", "drop", "lists", "ignore")
MACRO = re.compile(r"@([A-Za-z_]\w*)")
Fail = Callable[[str, str], "MappingError"]  # the error for a key and a message
# What to_expression leaves of a question that is arithmetic and nothing else.
ARITHMETIC = re.compile(r"(?:\d+(?:\.\d+)?|sqrt|abs|round|floor|ceil|log|sin|cos|tan|pi|\*\*|[-+*/%()]|\s)+")
OPERATION = re.compile(r"[-+*/%]|sqrt|abs|round|floor|ceil|log|sin|cos|tan")


class MappingError(VoxrouteError, ValueError):
    """The mapping file does not fit; the message names the file and the key."""


class _NotApplicable(Exception):
    """A rule that does not apply to a row; the message says why, for the drop reason."""


@dataclass(frozen=True)
class CorpusRow:
    """One utterance of a corpus: its words, intent, annotated slots (in order) and partition."""

    corpus: str
    scheme: str
    intent: str
    text: str
    slots: tuple[tuple[str, str], ...] = ()
    partition: str = ""

    @property
    def source(self) -> str:
        return f"{self.corpus}:{self.intent}"


@dataclass(frozen=True)
class Labelled:
    """A row as a data set example: the utterance as the router hears it, its calls and what kind of target."""

    user: str
    calls: Calls
    target: str  # "skill", "cant_do" or "other"


@dataclass(frozen=True)
class Dropped:
    reason: str


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str] | None
    has: tuple[str, ...]
    call: RawCall | None
    target: str  # "skill" for a call, "cant_do", "other", or "" for a drop
    drop: str
    lists: dict[str, dict[str, str]]  # placeholder -> said words' key -> value ("" leaves the argument out)
    ignore: frozenset[str]


@dataclass(frozen=True)
class Mapping:
    path: Path
    rules: dict[tuple[str, str], tuple[Rule, ...]]
    assistant_names: tuple[str, ...]
    fillers: tuple[str, ...]
    value_openings: tuple[str, ...]
    math_openings: tuple[str, ...]
    math_endings: tuple[str, ...]
    broad: frozenset[tuple[str, str]] = frozenset()  # (scheme, intent): every question of a kind, capped apart

    def user(self, text: str) -> str:
        """The utterance as the router would hear it: another assistant's name ("olly", "alexa") at either end
        left out, spacing normalised."""
        text = " ".join(text.split())
        text = after_wake_word(text, self.assistant_names) or text
        names = "|".join(r"\W+".join(map(re.escape, name.split())) for name in self.assistant_names)
        if names:
            text = re.sub(rf"[\s,]+(?:{names})\W*$", "", text, flags=re.IGNORECASE) or text
        return text

    def label(self, row: CorpusRow, pack: SkillPack) -> Labelled | Dropped:
        """The row's calls by the first rule that applies to it, or why it is dropped."""
        rules = self.rules.get((row.scheme, row.intent))
        if rules is None:
            raise MappingError(f"{self.path}: no rules for {row.scheme}.{row.intent} (a row of {row.corpus})")
        user = self.user(row.text)
        why = "no rule applies"
        for rule in rules:
            outcome = self._apply(rule, row, user, pack)
            if isinstance(outcome, str):
                why = f"no rule applies ({outcome})"
                continue
            return outcome
        return Dropped(why)

    def _apply(self, rule: Rule, row: CorpusRow, user: str, pack: SkillPack) -> Labelled | Dropped | str:
        """The rule's outcome for the row, or a short reason why it does not apply."""
        slots = list(row.slots)
        if rule.pattern is not None:
            match = rule.pattern.fullmatch(user)
            if match is None:
                return "no pattern matches"
            slots += [(name, value) for name, value in match.groupdict().items() if value]
        if missing := [name for name in rule.has if all(slot != name for slot, _ in slots)]:
            return f"no slot {missing[0]}"
        if rule.drop:
            return Dropped(rule.drop)
        if rule.call is None:
            return Labelled(user, Calls([_not_served(pack, rule.target)]), rule.target)
        wanted = {name for _, value in rule.call.keywords for name in _placeholders(value)}
        annotated = {name for name, _ in row.slots}  # a pattern's groups are its own: only annotations must be used
        if "*" not in rule.ignore and (unused := sorted(annotated - wanted - set(rule.lists) - rule.ignore)):
            return f"slot {unused[0]} unused"
        try:
            for name in set(rule.lists) - wanted:  # a list the call does not use only admits its values
                self._value(name, slots, user, rule)
            values = {name: self._value(name, slots, user, rule) for name in wanted}
        except _NotApplicable as reason:
            return str(reason)
        keywords = []
        for key, value in rule.call.keywords:
            names = _placeholders(value)
            if not names:
                keywords.append((key, value))
            elif values[names[0]]:  # a placeholder without a value leaves its argument out
                keywords.append((key, values[names[0]]))
        try:
            call = pack.bind(RawCall(rule.call.name, (), tuple(keywords)), user)
        except CallError as error:
            return Dropped(f"the call does not fit ({type(error).__name__})")
        if unresolved(pack, call) is not None:
            return Dropped("an argument does not resolve")
        return Labelled(user, Calls([call]), "skill")

    def _value(self, name: str, slots: list[tuple[str, str]], user: str, rule: Rule) -> str:
        """A placeholder's value ("" for none); _NotApplicable when the rule cannot fill it."""
        if name == "question":
            return self.question(user)
        if name == "expression":
            if (expression := self.expression(user)) is None:
                raise _NotApplicable("no arithmetic with digits")
            return expression
        found = [value for slot, value in slots if slot == name]
        if len(found) > 1:
            raise _NotApplicable(f"slot {name} said twice")
        if not found:
            return ""
        if name in rule.lists:
            mapped = rule.lists[name].get(utterance_key(found[0]))
            if mapped is None:
                raise _NotApplicable(f"{name} not in its list")
            return mapped
        return self.copied(found[0])

    def copied(self, value: str) -> str:
        """A said value without the words it opens with that the examples leave out ("the UK" is "UK")."""
        words = value.split()
        while len(words) > 1 and words[0].casefold() in self.value_openings:
            words = words[1:]
        return " ".join(words)

    def question(self, user: str) -> str:
        """ask's argument, as the examples write it: the utterance without the fillers it opens with."""
        return _without_openings(user, self.fillers) or user

    def expression(self, user: str) -> str | None:
        """The arithmetic the utterance asks for, compact and with digits ("12*7"), or None when it asks
        for more than the math skill's words can write that way."""
        text = _without_openings(user.casefold().strip(" ?.!"), self.math_openings)
        text = _without_endings(text, self.math_endings)
        try:
            with warnings.catch_warnings():  # ast warns of "1 2" as an invalid literal on the way to refusing it
                warnings.simplefilter("ignore", SyntaxWarning)
                expression = to_expression(text)
                if not ARITHMETIC.fullmatch(expression) or not OPERATION.search(expression):
                    return None
                compact = expression.replace(" ", "")
                return compact if math_expression(compact) == compact else None
        except (ValueError, IndexError):  # word2number fails on some runs ("1 million twelve hundred")
            return None


def _placeholders(value: object) -> list[str]:
    return SLOT.findall(value) if isinstance(value, str) else []


def _without_openings(text: str, openings: tuple[str, ...]) -> str:
    """``text`` without any of ``openings`` (whole words, longest first, repeatedly) at its start."""
    changed = True
    while changed:
        changed = False
        for opening in openings:
            match = re.match(rf"{re.escape(opening)}\b[\s,]*", text, re.IGNORECASE)
            if match and match.end() < len(text):
                text, changed = text[match.end() :], True
                break
    return text


def _without_endings(text: str, endings: tuple[str, ...]) -> str:
    changed = True
    while changed:
        changed = False
        for ending in endings:
            match = re.search(rf"[\s,]*\b{re.escape(ending)}$", text, re.IGNORECASE)
            if match and match.start() > 0:
                text, changed = text[: match.start()], True
                break
    return text


def load_mapping(path: str | Path, pack: SkillPack) -> Mapping:
    """Read and check the mapping file; MappingError naming the file and key when it does not fit."""
    path = Path(path)
    try:
        data = tomllib.loads(read_small_text(path, MAX_MAPPING_BYTES))
    except FileNotFoundError:
        raise MappingError(f"{path}: cannot be read: no such file") from None
    except ConfigError as error:
        raise MappingError(str(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise MappingError(f"{path}: not valid TOML: {error}") from None
    except (RecursionError, ValueError) as error:  # nested too deeply, an integer too long to convert
        raise MappingError(f"{path}: not valid TOML: {error}") from None

    def fail(key: str, message: str) -> MappingError:
        return MappingError(f"{path}: {key}: {message}")

    if unknown := sorted(set(data) - {"text", "lists", "patterns", "broad", *SCHEMES}):
        raise fail(unknown[0], f"unknown key (expected text, lists, patterns, broad, {', '.join(SCHEMES)})")
    text = _table(data, "text", fail)
    if unknown := sorted(set(text) - set(TEXT_KEYS)):
        raise fail(f"text.{unknown[0]}", f"unknown key (expected {', '.join(TEXT_KEYS)})")
    words = {key: _strings(text.get(key, []), f"text.{key}", fail) for key in TEXT_KEYS}
    lists = {name: _list(value, f"lists.{name}", fail) for name, value in _table(data, "lists", fail).items()}
    patterns = {
        name: _string(value, f"patterns.{name}", fail) for name, value in _table(data, "patterns", fail).items()
    }
    rules: dict[tuple[str, str], tuple[Rule, ...]] = {}
    for scheme in SCHEMES:
        for intent, entries in _table(data, scheme, fail).items():
            key = f"{scheme}.{intent}"
            if not isinstance(entries, list) or not entries:
                raise fail(key, "expected one or more rules, each a [[" + key + "]] table")
            rules[(scheme, intent)] = tuple(
                _rule(entry, f"{key}[{index}]", pack, lists, patterns, fail) for index, entry in enumerate(entries)
            )
    broad = frozenset(
        (scheme, intent)
        for scheme, intents in _table(data, "broad", fail).items()
        for intent in _strings(intents, f"broad.{scheme}", fail)
    )
    if unknown_intents := sorted(f"{scheme}.{intent}" for scheme, intent in broad - set(rules)):
        raise fail("broad", f"{unknown_intents[0]} has no rules")
    return Mapping(
        path,
        rules,
        tuple(words["assistant_names"]),
        tuple(sorted(words["fillers"], key=len, reverse=True)),
        tuple(word.casefold() for word in words["value_openings"]),
        tuple(sorted(words["math_openings"], key=len, reverse=True)),
        tuple(sorted(words["math_endings"], key=len, reverse=True)),
        broad,
    )


def _rule(
    entry: object,
    key: str,
    pack: SkillPack,
    lists: dict[str, dict[str, str]],
    patterns: dict[str, str],
    fail: Fail,
) -> Rule:
    if not isinstance(entry, dict):
        raise fail(key, "expected a table")
    if unknown := sorted(set(entry) - set(RULE_KEYS)):
        raise fail(f"{key}.{unknown[0]}", f"unknown key (expected {', '.join(RULE_KEYS)})")
    outcomes = [name for name in ("call", "target", "drop") if name in entry]
    if len(outcomes) != 1:
        raise fail(key, "needs exactly one of call, target and drop")
    pattern = None
    if "match" in entry:
        source = _string(entry["match"], f"{key}.match", fail)
        for name in MACRO.findall(source):
            if name not in patterns:
                raise fail(f"{key}.match", f"@{name} is no entry of [patterns]")
        try:
            pattern = re.compile(
                MACRO.sub(lambda m: f"(?P<{m.group(1)}>{patterns[m.group(1)]})", source), re.IGNORECASE
            )
        except re.error as error:
            raise fail(f"{key}.match", f"not a regular expression: {error}") from None
    has = tuple(_strings(entry.get("has", []), f"{key}.has", fail))
    ignore = frozenset(_strings(entry.get("ignore", []), f"{key}.ignore", fail))
    chosen: dict[str, dict[str, str]] = {}
    for slot, name in _table(entry, "lists", fail, key).items():
        if _string(name, f"{key}.lists.{slot}", fail) not in lists:
            raise fail(f"{key}.lists.{slot}", f"no list {name!r} in [lists]")
        chosen[slot] = lists[name]
    call, target, drop = None, "skill", ""
    if "call" in entry:
        call = _call_template(_string(entry["call"], f"{key}.call", fail), f"{key}.call", pack, fail)
    elif "target" in entry:
        target = _string(entry["target"], f"{key}.target", fail)
        if target not in TARGETS:
            raise fail(f"{key}.target", f"expected one of {', '.join(TARGETS)}, got {target!r}")
    else:
        target, drop = "", _string(entry["drop"], f"{key}.drop", fail)
        if not drop:
            raise fail(f"{key}.drop", "the reason is empty")
    return Rule(pattern, has, call, target, drop, chosen, ignore)


def _call_template(text: str, key: str, pack: SkillPack, fail: Fail) -> RawCall:
    """A parsed call template whose skill and argument names exist; each argument a fixed value or one
    placeholder."""
    try:
        raw = parse_call(text)
    except CallError as error:
        raise fail(key, str(error)) from None
    skill = pack.skills.get(raw.name)
    if skill is None:
        raise fail(key, f"unknown skill {raw.name!r} (known: {', '.join(pack.skills)})")
    if raw.positional:
        raise fail(key, 'name every argument (location="{place_name}")')
    names = {parameter.name for parameter in skill.parameters}
    for argument, value in raw.keywords:
        if argument not in names:
            raise fail(key, f"{raw.name}() has no argument {argument!r} (it takes: {', '.join(sorted(names))})")
        if isinstance(value, str) and SLOT.search(value) and not SLOT.fullmatch(value):
            raise fail(key, f'{argument}: a value is one placeholder like "{{place_name}}" or fixed words')
    return raw


def _table(data: MappingType[str, Any], name: str, fail: Fail, parent: str = "") -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise fail(f"{parent}.{name}" if parent else name, "expected a table")
    return value


def _string(value: object, key: str, fail: Fail) -> str:
    if not isinstance(value, str):
        raise fail(key, f"expected a string, got {type(value).__name__}")
    return value


def _strings(value: object, key: str, fail: Fail) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(key, "expected a list of strings")
    return value


def _list(value: object, key: str, fail: Fail) -> dict[str, str]:
    """A list in the example files' syntax, "tonight => today | tomorrow", by the said words' key."""
    parsed = parse_list_line(f"{{x}} = {' '.join(_string(value, key, fail).split())}")
    if parsed is None or not parsed[1]:
        raise fail(key, 'expected values like "tonight => today | tomorrow"')
    return {utterance_key(item.said): item.value for item in parsed[1]}


def _not_served(pack: SkillPack, target: str) -> Call:
    """The call of a row no skill serves: the pack's refusal for a request it cannot do, where it has one,
    else its fallback."""
    if target == "cant_do" and REFUSAL_SKILL in pack.skills:
        return Call(REFUSAL_SKILL)
    return pack.fallback or Call(FALLBACK_SKILL)
