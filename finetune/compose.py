"""Training examples of what people do beyond one clean command, made from a pack's own examples.

Any pack gets them, built from its written single-command examples (never from held-out ones):

* **compound**: two or three commands joined by a connective ("set a timer for ten minutes and
  what's the weather in Berlin"), their calls in the order said; a part the pack cannot do keeps
  its fallback call at its place, first as often as later ("call mom and then what time is it");
  two parts of speech not for the assistant stay one fallback call;
  two or three of the same skill may share their words ("the weather in Oslo and in Rome", "in
  Oslo, Stockholm and Helsinki"), unless the values said together are one ("5 minutes and 30 seconds");
  a second one of a skill that another skill ``changes`` is "another" ("a timer for 3 minutes and
  another for 5");
* **follow-up**: after one command, a short phrase that changes or adds one argument ("what about
  Rome", "and in Rome", "and tomorrow?") or corrects it ("no I said Vienna", "not Lima, Bogotá"), a
  said value or a choice of a Literal; the call is the previous one with that argument changed, or
  a call of the skill that ``changes`` it (a timer is changed, not started twice);
* **repeat**: "again", "pardon?" after a command repeats its calls;
* **answer**: the value alone ("twenty minutes") after a call the assistant asked about ("For how
  long?"), one whose value does not resolve ("set a timer for a while") or whose only said value is
  missing ("add a note"), completes that call; some replies leave the question (talk, another
  command) and are routed as if it had not been asked;
* **confirm**: "yes" after the assistant asked to confirm a call it was unsure of ("A timer for 10
  minutes?": :func:`~assistant.runtime.resolution.confirmation`) is that call; "no" is the fallback
  call (nothing is done); some replies leave the question, as for an answer;
* **unrelated**: anything said after an unrelated command ignores it; half of it is speech not for
  the assistant (it stays the fallback call), as people go on talking within the follow-up window;
* **no context**: a follow-up phrase with no previous turn is the fallback call, and so is an
  example that changes what another skill started without naming it ("make it ten"
  changes a timer: :func:`follows_on`), which is trained only after a turn of that skill;
* **unfinished**: a command cut off before its last spoken value ("set a timer for") is the unfinished
  mark, so that the router can tell when a request being spoken is complete. A cut is made only
  after a word that ends no complete example ("for", "in"), never after "what's the weather".

Everything is seeded and capped, and deduplicated by what the router sees (previous turn and
utterance), so that a data set built twice from the same files is identical. Every draw is bounded
(``MAX_TRIES``), so that any examples, even one skill's without fallback examples, finish: a kind
they cannot make is skipped and named (:attr:`Composition.skipped`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from assistant.dialogue import NO, YES, Exchange, first_question, remembered, without_wake_word
from assistant.routing.calls import CONNECTIVES, UNFINISHED, Call, Calls, NotSaid
from assistant.routing.spans import is_span
from assistant.runtime.example_files import Example, utterance_key
from assistant.runtime.pack import SkillPack
from assistant.runtime.resolution import confirmation, question

CHANGES = (
    "what about {v}",
    "and {v}?",
    "how about {v}",
    "{v} instead",
    "same for {v}",
    "now {v}",
    "ok and {v}",
    "no, {v}",
    "I meant {v}",
    "actually {v}",
    "make it {v}",
    "and what about {v}",
    "try {v}",
    "{v} please",
)
CORRECTIONS = (
    "no I said {v}",
    "no, I said {v}",
    "sorry I meant {v}",
    "sorry, {v}",
    "not {old}, {v}",
    "no not {old}, {v}",
    "I said {v}, not {old}",
    "no no, {v}",
    "wrong, {v}",
    "{v}, not {old}",
    "I meant {v} not {old}",
    "no, {v} I said",
    "oops, {v}",
    "correction, {v}",
)
REPEATS = (
    "again",
    "say that again",
    "one more time",
    "repeat that",
    "do it again",
    "same again please",
    "again please",
    "once more",
    "run that again",
    "same thing again",
    "do that once more",
    "and again",
    "tell me again",
    "once again",
    "repeat it",
    "same again",
    "can you do that again",
    "go again",
    "could you repeat that",
    "one more time please",
    "do the same again",
    "redo that",
    "pardon",
    "pardon me?",
    "sorry?",
    "come again?",
    "what was that?",
    "I didn't catch that",
    "say it again",
    "repeat please",
    "can you repeat that",
    "what did you say?",
    "sorry, what was that",
    "again, please",
    "could you say that again",
    "I missed that",
    "say again?",
    "once more please",
    "can you say it again",
    "sorry I didn't hear you",
    "huh, say that again",
    "please repeat",
    "what? again please",
    "didn't hear that, again",
    "run it again",
    "do it one more time",
    "repeat the last one",
    "same as before",
    "huh?",
    "what?",
    "eh?",
    "come again",
    "sorry, come again?",
    "what was that again?",
    "say what?",
    "I didn't get that",
    "sorry I missed that",
    "what did you just say",
    "can you say that once more",
    "sorry, could you repeat that",
    "huh, what was that?",
    "sorry, say it again",
    "repeat that please",
    "wait, what?",
    "sorry, once more",
    "I didn't quite catch that",
    "hm? again please",
)
REPEAT_OPENERS = ("", "", "", "sorry ", "sorry, ", "huh? ", "what? ", "oh ", "wait ", "um ", "excuse me, ")
ANSWERS = (
    "{v}",
    "{v}",
    "{v}",
    "{v}",
    "{v} please",
    "uh {v}",
    "um, {v}",
    "it's {v}",
    "{v}, thanks",
    "oh {v}",
    "just {v}",
    "{v} I guess",
)
VAGUE = ("a while", "a bit", "something", "the thing", "that thing", "whatever", "it")
ANOTHER = (
    "and another",
    "then another",
    "and another one",
    "and a second one",
    "and then another one",
    "plus another",
    "and one more",
)
PREPOSITIONS = ("in", "for", "at", "on", "about", "to", "from", "of", "with")  # kept in "and in Rome"
LEAD_WORDS = (*PREPOSITIONS, "that", "saying", "called", "named")  # go with a value left unsaid ("add a note that")
MAX_VALUE_WORDS = 4  # a follow-up names a place or a day, not a whole question
MAX_NAME_WORDS = 2  # a parameter whose values are usually this short names things ("Oslo", "ten minutes")
THREE_COMMANDS_SHARE = 0.5  # compounds of three commands rather than two (three were dropped most)
SHARED_WORDS_SHARE = 0.2  # compounds of one skill whose second part is only its value ("... in Oslo and Rome")
LISTED_VALUES_SHARE = 0.4  # of those, three values listed ("in Oslo, Stockholm and Helsinki")
ANOTHER_SHARE = 0.5  # of those of a skill others change (a timer), said as "and another for 5 minutes"
FALLBACK_PART_SHARE = 0.3  # compounds with a part the pack cannot do (0.15 left most first parts swallowing the rest)
TALK_ONLY_SHARE = 0.05  # compounds of two parts not for the assistant, which stay one fallback call
CORRECTION_SHARE = 0.3  # follow-ups that correct the previous value ("no I said Vienna") rather than change it
UNRELATED_FALLBACK_SHARE = 0.5  # unrelated turns that are speech not for the assistant
FINAL_SHARE = 0.1  # a word that ends complete requests this often among its cuts ends them: no cut there
LEAVING_SHARE = 0.2  # replies to the assistant's question that do not answer it ("hmm", another command)
MAX_TRIES = 1000  # draws in a row making nothing before a kind is given up; the most seen: 4 (pack), 33 (one file)
KINDS = ("compound", "follow-up", "repeat", "unrelated", "no context", "unfinished", "answer", "confirm")
DECLINED_SHARE = 0.3  # replies to a confirming question that say no


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
class Composition:
    """What :func:`compose` made, and the kinds asked for that it could not make from the examples given."""

    made: list[Composed]
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sizes:
    """How many of each kind to make at most."""

    compound: int = 2400
    follow_up: int = 1000
    repeat: int = 700
    unrelated: int = 2500
    no_context: int = 240
    unfinished: int = 900
    answer: int = 600
    confirm: int = 500

    def by_kind(self) -> dict[str, int]:
        """The most of each kind, by its name in KINDS."""
        return dict(zip(KINDS, vars(self).values(), strict=True))

    def scaled(self, share: float, unfinished: bool = True) -> Sizes:
        """A share of each; without ``unfinished`` none of that kind (held-out splits score complete requests)."""
        return Sizes(
            **{
                kind: round(count * share) if unfinished or kind != "unfinished" else 0
                for kind, count in vars(self).items()
            }
        )

    @classmethod
    def total(cls, count: int) -> Sizes:
        """``count`` examples in all, shared among the kinds as the defaults share them."""
        default = cls()
        whole = sum(vars(default).values())
        return cls(**{kind: round(count * share / whole) for kind, share in vars(default).items()})


def exchange_key(user: str, previous: str | None = None) -> str:
    """What makes two examples the same: the utterance, and the previous turn's where there is one."""
    return utterance_key(user) if previous is None else f"{utterance_key(previous)} || {utterance_key(user)}"


def compose(examples: list[Example], pack: SkillPack, sizes: Sizes, seed: int) -> Composition:
    """The composed examples of every kind, deduplicated, in a fixed order for a given input and seed.

    Every draw gives up after MAX_TRIES tries in a row that make nothing: the examples of one skill
    make no "unrelated" turn, and a kind none of whose draws succeed is skipped, not waited for.
    """
    asked = sizes.by_kind()
    singles = [e for e in examples if len(e.calls) == 1]
    following = [e for e in singles if follows_on(e, pack)]  # trained after a previous turn (training_data)
    followers = set(following)
    commands = [e for e in singles if e.calls[0] != pack.fallback and e not in followers]
    fallbacks = [e for e in singles if e.calls[0] == pack.fallback]
    if not commands:
        return Composition([], tuple(kind for kind, count in asked.items() if count))
    rng = random.Random(f"compose:{seed}")
    made: dict[str, Composed] = {}
    counts: Counter[str] = Counter()
    composers = {
        "compound": _compounds(commands, fallbacks, pack, rng),
        "follow-up": _follow_ups(commands, pack, rng),
        "repeat": _repeats(commands, pack, rng),
        "unrelated": _unrelated(commands, fallbacks, pack, rng),
        "no context": _no_context(commands, following, pack, rng),
        "unfinished": _unfinished(singles, commands, pack, rng),
        "answer": _answers(commands, fallbacks, pack, rng),
        "confirm": _confirmations(commands, fallbacks, pack, rng),
    }
    for kind, composer in composers.items():
        count = asked[kind]
        draws = _tried(composer)
        for _ in range(count * 3):  # generators may repeat themselves; stop at the count or after enough tries
            item = next(draws, None)
            if item is None or counts[item.kind] >= count:
                break
            if item.key not in made:
                made[item.key] = item
                counts[item.kind] += 1
    return Composition(list(made.values()), tuple(kind for kind, count in asked.items() if count and not counts[kind]))


def _tried(draws: Iterator[Composed | None]) -> Iterator[Composed]:
    """The examples ``draws`` makes, until MAX_TRIES draws in a row made none (a composer yields None for each).

    Some examples cannot make a kind at all (one skill has no "unrelated" turn): their draws end rather than hang.
    """
    failed = 0
    for item in draws:
        if item is not None:
            failed = 0
            yield item
        elif (failed := failed + 1) >= MAX_TRIES:
            return


def follows_on(example: Example, pack: SkillPack) -> str | None:
    """The skill whose call this example changes without naming it, if it does: "make it ten" changes a
    timer (``timer_change`` declares ``changes="timer"``) and means something only right after one."""
    calls = example.calls
    skill = pack.skills.get(calls[0].name) if len(calls) == 1 else None
    target = skill.changes if skill is not None else None
    return target if target and target.casefold() not in utterance_key(example.user).split() else None


def previous_turns(examples: list[Example], pack: SkillPack, seed: int) -> dict[Example, Exchange]:
    """A turn before each example that :func:`follows_on` another skill: one of that skill's examples, seeded."""
    rng = random.Random(f"follows on:{seed}")
    started: dict[str, list[Example]] = {}
    for example in examples:
        if len(example.calls) == 1:
            started.setdefault(example.calls[0].name, []).append(example)
    return {
        example: _previous(rng.choice(started[target]), pack)
        for example in examples
        if (target := follows_on(example, pack)) and started.get(target)
    }


def _said(example: Example, first: bool) -> str:
    """The example's words as one part of a longer sentence: no trailing punctuation, no wake word after the first."""
    text = example.user.strip().rstrip(".?!,;")
    return text if first else without_wake_word(text)


def _previous(example: Example, pack: SkillPack) -> Exchange:
    """An example as the turn before a follow-up, as the assistant remembers it (after the wake word,
    with its question where an argument does not resolve)."""
    return Exchange(remembered(without_wake_word(example.user)), example.calls, question(pack, example.calls))


def _compounds(
    commands: list[Example], fallbacks: list[Example], pack: SkillPack, rng: random.Random
) -> Iterator[Composed | None]:
    names = _naming(commands, pack)
    started = {skill.changes for skill in pack.skills.values() if skill.changes}  # "another" of these is a second one
    ending = [
        (e, name)
        for e in commands
        for name in names.get(e.calls[0].name, ())
        if _said(e, True).casefold().endswith(str(e.calls[0].kwargs.get(name, "\0")).casefold())
    ]
    while True:
        # one skill, two values ("the weather in Oslo and in Rome") or three listed ("in Oslo, Stockholm and Helsinki")
        if ending and rng.random() < SHARED_WORDS_SHARE:
            first, name = rng.choice(ending)
            values = list(
                dict.fromkeys(
                    rng.choice(names[first.calls[0].name][name])
                    for _ in range(2 if rng.random() < LISTED_VALUES_SHARE else 1)
                )
            )
            text = _said(first, True)
            if all(value.casefold() not in text.casefold() for value in values) and not _one_value(
                pack, first.calls[0], name, values
            ):
                before = text[: len(text) - len(str(first.calls[0].kwargs[name]))].split()
                joint = (
                    f"and {before[-1]}"
                    if before and rng.random() < 0.5
                    else rng.choice(("and", "and also", "and then"))
                )
                if first.calls[0].name in started and rng.random() < ANOTHER_SHARE:  # "... and another for 5 minutes"
                    joint = rng.choice(ANOTHER) + (
                        f" {before[-1]}" if before and before[-1].casefold() in PREPOSITIONS else ""
                    )
                sentence = f"{text}, {values[0]} and {values[1]}" if len(values) == 2 else f"{text} {joint} {values[0]}"
                yield Composed(
                    sentence,
                    Calls([first.calls[0], *(_changed(first.calls[0], name, v, pack) for v in values)]),
                    "compound",
                )
            else:
                yield None
            continue
        parts = [rng.choice(commands) for _ in range(3 if rng.random() < THREE_COMMANDS_SHARE else 2)]
        if len({e.calls[0] for e in parts}) < len(parts):  # the same request twice is not two requests
            yield None
            continue
        if len(fallbacks) > 1 and rng.random() < TALK_ONLY_SHARE:  # talk joined with talk is not for the assistant
            assert pack.fallback is not None  # fallbacks are the examples that call it
            parts, calls = rng.sample(fallbacks, 2), Calls([pack.fallback])
        else:
            if fallbacks and rng.random() < FALLBACK_PART_SHARE:  # a part the pack cannot do keeps its place
                parts[rng.randrange(len(parts))] = rng.choice(fallbacks)
            calls = Calls(e.calls[0] for e in parts)
        text = _said(parts[0], True)
        for part in parts[1:]:
            text = rng.choice(CONNECTIVES).format(a=text, b=_said(part, False))
        copyable = _copyable(calls, text, pack)  # not when a value ended in the "!" left out
        yield Composed(text, calls, "compound") if copyable else None


def _copyable(calls: Calls, text: str, pack: SkillPack) -> bool:
    """Whether every said value of ``calls`` is words of ``text``, as the grammar can copy them."""
    try:
        for call in calls:
            pack.skills[call.name].check_spans(call, text)
    except NotSaid:
        return False
    return True


def _one_value(pack: SkillPack, call: Call, name: str, more: list[str]) -> bool:
    """Whether the values said together are one value of the parameter ("5 minutes and 30 seconds" is one duration)."""
    resolver = next(p.resolver for p in pack.skills[call.name].parameters if p.name == name)
    joined = " and ".join([str(call.kwargs[name]), *more])
    return resolver is not None and resolver.ask is not None and resolver.resolve(joined) is not None


def _values(commands: list[Example], pack: SkillPack) -> dict[str, dict[str, list[str]]]:
    """Per skill and parameter, the values a follow-up may name: short said values, and a Literal's text choices."""
    found: dict[str, dict[str, list[str]]] = {}
    for example in commands:
        call = example.calls[0]
        for param in pack.skills[call.name].parameters:
            value = call.kwargs.get(param.name)
            if param.span and isinstance(value, str) and len(value.split()) <= MAX_VALUE_WORDS:
                found.setdefault(call.name, {}).setdefault(param.name, []).append(value)
    for skill in pack.skills.values():
        for param in skill.parameters:
            if param.choices and skill.name in found and all(isinstance(choice, str) for choice in param.choices):
                found[skill.name][param.name] = [str(choice) for choice in param.choices]
    return found


def _naming(commands: list[Example], pack: SkillPack) -> dict[str, dict[str, list[str]]]:
    """The said parameters whose values are names (usually one or two words: a place, a program), per skill."""
    naming: dict[str, dict[str, list[str]]] = {}
    for skill, params in _values(commands, pack).items():
        for name, values in params.items():
            said = any(p.name == name and p.span for p in pack.skills[skill].parameters)
            if said and sorted(len(v.split()) for v in values)[len(values) // 2] <= MAX_NAME_WORDS:
                naming.setdefault(skill, {})[name] = values
    return naming


def _changed(call: Call, name: str, value: str, pack: SkillPack) -> Call:
    """``call`` with one argument set, in the signature's order."""
    args = {**call.kwargs, name: value}
    return Call(call.name, tuple((p.name, args[p.name]) for p in pack.skills[call.name].parameters if p.name in args))


def _word_before(text: str, value: object) -> str | None:
    """The word said just before ``value`` ("in" of "the weather in Rome"), if ``value`` was said."""
    at = text.casefold().find(str(value).casefold()) if isinstance(value, str) and value else -1
    words = text[:at].split() if at > 0 else []
    return words[-1].casefold() if words and words[-1].isalpha() else None


def _follow_ups(commands: list[Example], pack: SkillPack, rng: random.Random) -> Iterator[Composed | None]:
    values = _values(commands, pack)
    changers = {skill.changes: skill for skill in pack.skills.values() if skill.changes}
    candidates = [e for e in commands if e.calls[0].name in values]
    if not candidates:
        return
    while True:
        before = rng.choice(candidates)
        call = before.calls[0]
        name = rng.choice(sorted(values[call.name]))
        value = rng.choice(values[call.name][name])
        if value == call.kwargs.get(name):
            yield None
            continue
        changer = changers.get(call.name)
        if changer is not None:  # a change of what this skill started (a timer's duration), if the changer takes it
            if not all(p.name == name for p in changer.parameters if p.required) or name not in {
                p.name for p in changer.parameters
            }:
                yield None
                continue
            after = Call(changer.name, ((name, value),))
        else:
            after = _changed(call, name, value, pack)
        said = value
        word = _word_before(before.user, call.kwargs.get(name))
        if word in PREPOSITIONS and rng.random() < 0.4:  # "and in Rome", as the first request put it
            said = f"{word} {value}"
        old = call.kwargs.get(name)
        phrase = rng.choice(CHANGES).format(v=said)
        if isinstance(old, str) and old.casefold() in before.user.casefold() and rng.random() < CORRECTION_SHARE:
            phrase = rng.choice(CORRECTIONS).format(v=said, old=old)  # "no I said Vienna", "not Lima, Bogotá"
        yield Composed(phrase, Calls([after]), "follow-up", _previous(before, pack))


def _repeats(commands: list[Example], pack: SkillPack, rng: random.Random) -> Iterator[Composed]:
    while True:
        before = rng.choice(commands)
        said = rng.choice(REPEAT_OPENERS) + rng.choice(REPEATS)  # "sorry, what was that": a repeat, not talk
        yield Composed(said, before.calls, "repeat", _previous(before, pack))


def _answers(
    commands: list[Example], fallbacks: list[Example], pack: SkillPack, rng: random.Random
) -> Iterator[Composed | None]:
    """The value alone, answering the assistant's question about the previous call, completes that call.

    The assistant asks (the parameter's resolver has a question) when a value does not resolve ("set
    a timer for a while": for how long?) or when the only value said is missing ("add a note": what
    should it say?); the answer ("twenty minutes", "pick up the kids at four") is that value and
    nothing else. A share of replies leave the question: talk not for the assistant, or a command of
    another skill, routed as it would be alone.
    """
    unresolvable = {
        (name, p.name): [word for word in VAGUE if p.resolver.resolve(word) is None]
        for name, skill in pack.skills.items()
        for p in skill.parameters
        if p.resolver is not None and p.resolver.ask is not None
    }  # the parameters the assistant asks for
    candidates = []
    for example in commands:
        call, text = example.calls[0], _said(example, True)
        spoken = [
            p
            for p in pack.skills[call.name].parameters
            if p.span
            and isinstance(value := call.kwargs.get(p.name), str)
            and value.casefold() in text.casefold()
            and is_span(value, value)
        ]  # a value the grammar can copy
        for param in spoken:
            if (call.name, param.name) not in unresolvable:
                continue
            vague = unresolvable[call.name, param.name]
            if vague or (not param.required and len(spoken) == 1):
                candidates.append((example, text, param, vague))
    while candidates:
        example, text, param, vague = rng.choice(candidates)
        name = param.name
        call = example.calls[0]
        value = str(call.kwargs[name])
        at = text.casefold().find(value.casefold())
        words, rest = text[:at].split(), text[at + len(value) :]
        word = words[-1].casefold() if words else ""
        if vague:  # said, but not as anything the skill can act on
            blurred = rng.choice(vague)
            asked_about = Calls([_changed(call, name, blurred, pack)])
            said_before = " ".join([*words, blurred]) + rest
            asked = question(pack, asked_about)
        else:  # not said at all: the skill asks for it
            asked_about = Calls([Call(call.name, tuple((k, v) for k, v in call.args if k != name))])
            said_before = " ".join(words[:-1] if word in LEAD_WORDS else words) + rest
            resolver = param.resolver
            assert resolver is not None and resolver.ask is not None  # unresolvable holds only those that ask
            asked = first_question(resolver.ask.format(value=""))  # as the dispatcher words it, nothing said
        if len(said_before.split()) < 2:
            yield None
            continue
        context = Exchange(remembered(without_wake_word(said_before)), asked_about, asked)
        if rng.random() < LEAVING_SHARE:
            now = _unrelated_to(commands, fallbacks, rng)
            yield Composed(now.user, now.calls, "answer", context) if now.calls[0].name != call.name else None
            continue
        answer = f"{word} {value}" if word in PREPOSITIONS and rng.random() < 0.3 else value
        yield Composed(rng.choice(ANSWERS).format(v=answer), example.calls, "answer", context)


def _confirmations(
    commands: list[Example], fallbacks: list[Example], pack: SkillPack, rng: random.Random
) -> Iterator[Composed | None]:
    """After the assistant asked to confirm a command it was unsure of, "yes" is that command and "no" is
    nothing (the fallback call); a share of replies leave the question, as for an answer."""
    asking = [(example, asked) for example in commands if (asked := confirmation(pack, example.calls))]
    if not asking or pack.fallback is None:
        return
    while True:
        example, asked = rng.choice(asking)
        context = Exchange(remembered(without_wake_word(example.user)), example.calls, asked)
        draw = rng.random()
        if draw < LEAVING_SHARE:
            now = _unrelated_to(commands, fallbacks, rng)
            yield Composed(now.user, now.calls, "confirm", context) if now.calls != example.calls else None
        elif draw < LEAVING_SHARE + DECLINED_SHARE:
            yield Composed(rng.choice(NO), Calls([pack.fallback]), "confirm", context)
        else:
            yield Composed(rng.choice(YES), example.calls, "confirm", context)


def _unrelated_to(commands: list[Example], fallbacks: list[Example], rng: random.Random) -> Example:
    """What is said next that does not build on the turn before: talk not for the assistant, or a command."""
    return rng.choice(fallbacks) if fallbacks and rng.random() < UNRELATED_FALLBACK_SHARE else rng.choice(commands)


def _unrelated(
    commands: list[Example], fallbacks: list[Example], pack: SkillPack, rng: random.Random
) -> Iterator[Composed | None]:
    """Half of what follows is speech not for the assistant: within the follow-up window people go on
    talking to each other, and a router that reads every turn as a follow-up acts on their words."""
    while True:
        before = rng.choice(commands)
        now = _unrelated_to(commands, fallbacks, rng)
        other = before.calls[0].name != now.calls[0].name
        yield Composed(now.user, now.calls, "unrelated", _previous(before, pack)) if other else None


def _no_context(
    commands: list[Example], following: list[Example], pack: SkillPack, rng: random.Random
) -> Iterator[Composed]:
    if pack.fallback is None:
        return
    values = [value for params in _values(commands, pack).values() for found in params.values() for value in found]
    while True:
        draw = rng.random()
        if draw < 0.4 and following:  # "make it ten" with no timer just set
            phrase = rng.choice(following).user
        elif draw < 0.65 or not values:
            phrase = rng.choice(REPEATS)
        else:
            phrase = rng.choice(CHANGES).format(v=rng.choice(values))
        yield Composed(phrase, Calls([pack.fallback]), "no context")


def cut_before_last_spoken(text: str, call: Call, pack: SkillPack) -> str | None:
    """``text`` up to the last spoken (span) value of ``call``, if at least two words come before it;
    a Literal's value may go unsaid, so it never marks a cut."""
    said = {p.name for p in pack.skills[call.name].parameters if p.span}
    starts = [text.casefold().rfind(v.casefold()) for name, v in call.args if name in said and isinstance(v, str) and v]
    at = max(starts, default=-1)
    head = text[:at].rstrip(" ,") if at > 0 else ""
    return head if len(head.split()) >= 2 else None


def cuts(commands: Iterable[tuple[str, Call]], pack: SkillPack, complete: Iterable[str]) -> list[str]:
    """Each command cut just before its last spoken (span) value, unless the cut could be a whole request:
    it is one of ``complete``, or its last word ends complete requests at least a FINAL_SHARE of the
    times it ends a cut ("what's the weather" is whole; one "I'm pulling in" does not make "... in" whole)."""
    heads = [
        head
        for text, call in commands
        if (head := cut_before_last_spoken(text.strip().rstrip(".?!,;"), call, pack)) is not None
    ]
    whole = {utterance_key(text) for text in complete}
    ending = Counter(key.rsplit(" ", 1)[-1] for key in whole)
    before_value = Counter(utterance_key(head).rsplit(" ", 1)[-1] for head in heads)

    def could_be_whole(head: str) -> bool:
        key = utterance_key(head)
        last = key.rsplit(" ", 1)[-1]
        return key in whole or ending[last] >= FINAL_SHARE * (ending[last] + before_value[last])

    return [head for head in heads if not could_be_whole(head)]


def _unfinished(
    singles: list[Example], commands: list[Example], pack: SkillPack, rng: random.Random
) -> Iterator[Composed]:
    """Commands cut just before their last spoken (span) value where the cut is no complete example."""
    heads = cuts(((e.user, e.calls[0]) for e in commands), pack, (e.user for e in singles))
    while heads:
        yield Composed(rng.choice(heads), UNFINISHED, "unfinished")
