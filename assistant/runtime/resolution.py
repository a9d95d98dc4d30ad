"""Resolving a call's arguments to what its skill will act on.

Two calls can differ in words and mean the same action: ``timer(duration="90 seconds")`` and
``timer(duration="a minute and a half")``, ``run_app(program="calculator app")`` and
``run_app(program="calculator")``. A parameter's :class:`~assistant.runtime.skill.Resolver` says how its
words resolve; a text without one resolves to its words, case, punctuation and spacing aside.
The runtime asks a short question instead of acting when an argument does not resolve, and
``eval.py`` scores resolved-call accuracy with the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.dialogue import first_question
from assistant.routing.calls import Call, Calls, Literal_
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Parameter, Resolved


@dataclass(frozen=True)
class Unresolved:
    """An argument that did not resolve, and the question to ask instead of acting."""

    parameter: str
    value: str
    question: str


def resolve_value(parameter: Parameter, value: Literal_) -> Resolved | None:
    """What the skill acts on for this argument value; None when its resolver cannot place it."""
    if not isinstance(value, str):
        return value
    if parameter.resolver is None:
        return value if parameter.choices is not None else utterance_key(value)
    return parameter.resolver.resolve(value)


def unresolved(pack: SkillPack, call: Call) -> Unresolved | None:
    """The first argument of ``call`` that does not resolve, with its question; None when all do."""
    skill = pack.skills.get(call.name)
    if skill is None:
        return None
    parameters = {parameter.name: parameter for parameter in skill.parameters}
    for name, value in call.args:
        parameter = parameters[name]
        resolver = parameter.resolver
        if (
            resolver is not None
            and resolver.ask is not None
            and isinstance(value, str)
            and resolver.resolve(value) is None
        ):
            return Unresolved(name, value, resolver.ask.format(value=value))
    return None


def question(pack: SkillPack, calls: Calls) -> str:
    """The question the assistant asks about ``calls`` instead of acting, as a follow-up remembers it;
    "" when every argument resolves."""
    return next((first_question(missing.question) for call in calls if (missing := unresolved(pack, call))), "")


def confirmation(pack: SkillPack, calls: Calls) -> str:
    """The question asked instead of acting on ``calls`` when the router is unsure of them ("A timer for 10
    minutes?"); "" when their skill never asks, and for several calls (each part is acted on as decoded)."""
    skill = pack.skills.get(calls[0].name) if len(calls) == 1 else None
    return first_question(skill.confirmation(calls[0])) if skill is not None else ""


def resolved_key(pack: SkillPack, call: Call) -> tuple[str, tuple[tuple[str, Resolved], ...]]:
    """A call as the action it stands for: the skill and each argument's resolved value.

    An argument that does not resolve keeps its normalised words, so two calls that both fail
    to resolve agree only when they say the same thing.
    """
    skill = pack.skills.get(call.name)
    if skill is None:
        return (call.name, call.args)
    parameters = {parameter.name: parameter for parameter in skill.parameters}
    args: list[tuple[str, Resolved]] = []
    for name, value in call.args:
        resolved = resolve_value(parameters[name], value)
        if resolved is None:
            resolved = ("unresolved", utterance_key(str(value)))
        args.append((name, resolved))
    return (call.name, tuple(sorted(args, key=lambda pair: pair[0])))
