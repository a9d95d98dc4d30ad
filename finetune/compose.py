"""Training examples of what people do beyond one clean command, made from a pack's own examples.

Any pack gets them, built from its written single-command examples (never from held-out ones):

* **compound**: two or three commands joined by a connective ("set a timer for ten minutes and
  what's the weather in Berlin"), their calls in the order said; a part the pack cannot do keeps
  its fallback call at its place;
* **follow-up**: after one command, a short phrase that changes or adds one argument ("what about
  Rome", "and tomorrow?"); the call is the previous one with that argument changed, or a call of
  the skill that ``changes`` it (a timer is changed, not started twice);
* **repeat**: "again" after a command repeats its calls;
* **unrelated**: a command after an unrelated one ignores it;
* **no context**: a follow-up phrase with no previous turn is the fallback call.

Everything is seeded and capped, and deduplicated by what the router sees (previous turn and
utterance), so that a data set built twice from the same files is identical.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.calls import Call, Calls
from assistant.dialogue import Exchange, remembered, without_wake_word
from assistant.examples import Example, utterance_key
from assistant.pack import SkillPack

CONNECTIVES = ("{a} and {b}", "{a} then {b}", "{a} and also {b}", "{a}, after that {b}", "{a} and then {b}",
               "{a}, also {b}", "{a} plus {b}", "{a}, and {b}")
CHANGES = ("what about {v}", "and {v}?", "how about {v}", "{v} instead", "same for {v}", "now {v}", "ok and {v}",
           "no, {v}", "I meant {v}", "actually {v}", "make it {v}", "and what about {v}", "try {v}", "{v} please")
REPEATS = ("again", "say that again", "one more time", "repeat that", "do it again", "same again please",
           "again please", "once more")
MAX_VALUE_WORDS = 4  # a follow-up names a place or a day, not a whole question
KINDS = ("compound", "follow-up", "repeat", "unrelated", "no context")


@dataclass(frozen=True)
class Composed:
    user: str
    calls: Calls
    kind: str
    context: Exchange | None = None

    @property
    def key(self) -> str:
        return exchange_key(self.user, self.context.user if self.context else None)


@dataclass(frozen=True)
class Sizes:
    """How many of each kind to make at most."""

    compound: int = 600
    follow_up: int = 500
    repeat: int = 80
    unrelated: int = 300
    no_context: int = 80

    def scaled(self, share: float) -> Sizes:
        return Sizes(**{kind: round(count * share) for kind, count in vars(self).items()})

    @classmethod
    def total(cls, count: int) -> Sizes:
        """``count`` examples in all, shared among the kinds as the defaults share them."""
        default = cls()
        whole = sum(vars(default).values())
        return cls(**{kind: round(count * share / whole) for kind, share in vars(default).items()})


def exchange_key(user: str, previous: str | None = None) -> str:
    """What makes two examples the same: the utterance, and the previous turn's where there is one."""
    return utterance_key(user) if previous is None else f"{utterance_key(previous)} || {utterance_key(user)}"


def compose(examples: list[Example], pack: SkillPack, sizes: Sizes, seed: int) -> list[Composed]:
    """The composed examples of every kind, deduplicated, in a fixed order for a given input and seed."""
    singles = [e for e in examples if len(e.calls) == 1]
    commands = [e for e in singles if e.calls[0] != pack.fallback]
    if not commands:
        return []
    rng = random.Random(f"compose:{seed}")
    made: dict[str, Composed] = {}
    counts: Counter[str] = Counter()
    for generator, count in ((_compounds(singles, commands, pack, rng), sizes.compound),
                             (_follow_ups(commands, pack, rng), sizes.follow_up),
                             (_repeats(commands, rng), sizes.repeat),
                             (_unrelated(commands, rng), sizes.unrelated),
                             (_no_context(commands, pack, rng), sizes.no_context)):
        for _ in range(count * 3):  # generators may repeat themselves; stop at the count or after enough tries
            item = next(generator, None)
            if item is None or counts[item.kind] >= count:
                break
            if item.key not in made:
                made[item.key] = item
                counts[item.kind] += 1
    return list(made.values())


def _said(example: Example, first: bool) -> str:
    """The example's words as one part of a longer sentence: no trailing punctuation, no wake word after the first."""
    text = example.user.strip().rstrip(".?!,;")
    return text if first else without_wake_word(text)


def _previous(example: Example) -> Exchange:
    """An example as the turn before a follow-up, as the assistant remembers it (after the wake word)."""
    return Exchange(remembered(without_wake_word(example.user)), example.calls)


def _compounds(singles: list[Example], commands: list[Example], pack: SkillPack, rng: random.Random) -> Iterator[Composed]:
    fallbacks = [e for e in singles if e.calls[0] == pack.fallback]
    while True:
        parts = [rng.choice(commands) for _ in range(2 if rng.random() < 0.75 else 3)]
        if fallbacks and rng.random() < 0.15:  # a part the pack cannot do keeps its place as the fallback call
            parts[rng.randrange(len(parts))] = rng.choice(fallbacks)
        text = _said(parts[0], True)
        for part in parts[1:]:
            text = rng.choice(CONNECTIVES).format(a=text, b=_said(part, False))
        yield Composed(text, Calls(e.calls[0] for e in parts), "compound")


def _changeable(call: Call, pack: SkillPack) -> list[str]:
    """The parameters of a call's skill whose values are words said (spans): a place, a day, a duration."""
    return [p.name for p in pack.skills[call.name].parameters if p.span]


def _follow_ups(commands: list[Example], pack: SkillPack, rng: random.Random) -> Iterator[Composed]:
    by_value: dict[tuple[str, str], list[str]] = {}
    for example in commands:
        call = example.calls[0]
        for name, value in call.args:
            if isinstance(value, str) and name in _changeable(call, pack) and len(value.split()) <= MAX_VALUE_WORDS:
                by_value.setdefault((call.name, name), []).append(value)
    changers = {skill.changes: skill for skill in pack.skills.values() if skill.changes}
    candidates = [e for e in commands if any(key[0] == e.calls[0].name for key in by_value)]
    if not candidates:
        return
    while True:
        before = rng.choice(candidates)
        call = before.calls[0]
        name = rng.choice([n for (skill, n) in by_value if skill == call.name])
        value = rng.choice(by_value[(call.name, name)])
        if value == call.kwargs.get(name):
            continue
        changer = changers.get(call.name)
        if changer is not None:  # a change of what this skill started (a timer's duration), if the changer takes it
            if not all(p.name == name for p in changer.parameters if p.required) or name not in {
                    p.name for p in changer.parameters}:
                continue
            after = Call(changer.name, ((name, value),))
        else:
            args = {**call.kwargs, name: value}
            after = Call(call.name, tuple((p.name, args[p.name]) for p in pack.skills[call.name].parameters
                                          if p.name in args))
        yield Composed(rng.choice(CHANGES).format(v=value), Calls([after]), "follow-up", _previous(before))


def _repeats(commands: list[Example], rng: random.Random) -> Iterator[Composed]:
    while True:
        before = rng.choice(commands)
        yield Composed(rng.choice(REPEATS), before.calls, "repeat", _previous(before))


def _unrelated(commands: list[Example], rng: random.Random) -> Iterator[Composed]:
    while True:
        before, now = rng.choice(commands), rng.choice(commands)
        if before.calls[0].name != now.calls[0].name:
            yield Composed(now.user, now.calls, "unrelated", _previous(before))


def _no_context(commands: list[Example], pack: SkillPack, rng: random.Random) -> Iterator[Composed]:
    if pack.fallback is None:
        return
    values = [value for e in commands for name, value in e.calls[0].args
              if isinstance(value, str) and name in _changeable(e.calls[0], pack) and len(value.split()) <= MAX_VALUE_WORDS]
    while True:
        phrase = rng.choice(REPEATS) if rng.random() < 0.3 or not values else rng.choice(CHANGES).format(v=rng.choice(values))
        yield Composed(phrase, Calls([pack.fallback]), "no context")
