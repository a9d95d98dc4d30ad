"""A skill is a plain typed Python function; everything else is derived from it.

The function's name, docstring and signature are the single source of truth: the prompt line,
the JSON schema for OpenAI tools and the validation of a parsed call all come from here.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from assistant.routing.calls import (
    Call,
    DuplicateArgument,
    InvalidChoice,
    Literal_,
    MissingArgument,
    NotSaid,
    RawCall,
    TooManyArguments,
    UnknownArgument,
    WrongType,
)
from assistant.routing.spans import is_span

SKILL_ATTRIBUTE = "__voxroute_skill__"
Resolved = Hashable
_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Resolver:
    """How a spoken argument resolves to what the skill acts on, declared in the signature.

    ``program: Annotated[str, Resolver(find_program, "Which program?")]``: ``resolve`` maps what
    was said to the thing acted on (a number of seconds, an allow-list entry), or None when it
    cannot; then the assistant asks ``ask`` (``{value}`` is replaced by what was said) instead of
    acting. The skill itself calls the same function, so both always agree. A resolver without a
    question always resolves: it only tells which values mean the same (for scoring calls).
    """

    resolve: Callable[[str], Resolved | None]
    ask: str | None = None


@dataclass(frozen=True)
class Span:
    """Marks a text argument that is always words of the utterance: ``Annotated[str, Span()]``.

    The decoder may then only copy a word-aligned run of what was said (see
    :func:`assistant.routing.spans.is_span`), so it cannot invent a value that was never spoken.
    """


@dataclass(frozen=True)
class Parameter:
    """One argument of a skill: its literal type, whether None is allowed, its default, choices and resolver."""

    name: str
    type: type
    optional: bool
    required: bool
    default: Literal_ = None
    choices: tuple[Literal_, ...] | None = None
    resolver: Resolver | None = None
    span: bool = False

    def check(self, skill: str, value: Literal_) -> None:
        """Raise WrongType or InvalidChoice when ``value`` does not fit this parameter."""
        if value is None:
            if not self.optional:
                raise WrongType(f"{skill}(): {self.name} may not be None")
            return
        fits = isinstance(value, self.type) and not (isinstance(value, bool) and self.type is not bool)
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            fits = True
        if not fits:
            raise WrongType(
                f"{skill}(): {self.name} must be {self.type.__name__}, got {type(value).__name__} {value!r}"
            )
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(choice) for choice in self.choices)
            raise InvalidChoice(f"{skill}(): {self.name}={value!r} is not one of {allowed}")

    def placeholder(self) -> str:
        """The otto-style prompt placeholder: name="[name]", or the choices for a Literal."""
        inner = "|".join(str(choice) for choice in self.choices) if self.choices else self.name
        return f'{self.name}="[{inner}]"' if self.type is str else f"{self.name}=[{inner}]"

    def annotation(self) -> str:
        """The type as a reader writes it: ``str``, ``"add" | "list"``, ending ``| None`` when None is allowed."""
        kind = " | ".join(_shown(choice) for choice in self.choices) if self.choices else self.type.__name__
        return f"{kind} | None" if self.optional else kind

    def signature(self) -> str:
        """``name: type``, plus ``= default`` when the argument may be left out."""
        text = f"{self.name}: {self.annotation()}"
        return text if self.required else f"{text} = {_shown(self.default)}"

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _TYPES[self.type]}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.optional:
            schema["type"] = [schema["type"], "null"]
        return schema


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Skill:
    """A registered function with what is derived from its signature."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    function: Callable[..., Any]
    isolated: bool = False  # runs in a child process killed at the time limit (see assistant.runtime.isolation)
    changes: str | None = None  # the skill whose action this one changes ("make it ten" after a timer)
    reads_only: bool = False  # only looks things up: may run before the speaker is sure to have finished
    confirm: str | None = None  # the question asked before acting on a call the router is unsure of

    def confirmation(self, call: Call) -> str:
        """``confirm`` said of ``call``: each ``{argument}`` its value, a ``[...]`` part left out when an argument in
        it has none; "" for a skill that never asks."""
        if self.confirm is None:
            return ""
        values = {name: str(value) for name, value in call.kwargs.items()}

        def fill(text: str) -> str | None:
            names = _PLACEHOLDER.findall(text)
            if any(name not in values for name in names):
                return None
            return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)

        kept = _OPTIONAL.sub(lambda match: fill(match.group(1)) or "", self.confirm)
        return fill(kept) or ""

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        name: str | None = None,
        isolated: bool = False,
        changes: str | None = None,
        reads_only: bool = False,
        confirm: str | None = None,
    ) -> Skill:
        hints = typing.get_type_hints(function, include_extras=True)
        parameters = []
        for param in inspect.signature(function).parameters.values():
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise TypeError(f"skill {function.__name__}: *args/**kwargs are not allowed ({param.name})")
            if param.name not in hints:
                raise TypeError(f"skill {function.__name__}: parameter {param.name} needs a type hint")
            hint, markers = _markers(hints[param.name])
            base, optional, choices = _read_hint(hint, f"{function.__name__}.{param.name}")
            required = param.default is inspect.Parameter.empty
            default = None if required else param.default
            resolver = next((marker for marker in markers if isinstance(marker, Resolver)), None)
            span = any(isinstance(marker, Span) for marker in markers)
            if span and (base is not str or choices is not None):
                raise TypeError(f"skill parameter {function.__name__}.{param.name}: only a plain str can be a Span")
            parameters.append(Parameter(param.name, base, optional, required, default, choices, resolver, span))
        doc = inspect.getdoc(function)
        if not doc:
            raise TypeError(f"skill {function.__name__}: a docstring is required (it is the skill's description)")
        description = " ".join(doc.split("\n\n")[0].split())
        if confirm is not None and (unknown := set(_PLACEHOLDER.findall(confirm)) - {p.name for p in parameters}):
            raise TypeError(f"skill {function.__name__}: confirm names no parameter {sorted(unknown)[0]!r}")
        return cls(
            name or function.__name__, description, tuple(parameters), function, isolated, changes, reads_only, confirm
        )

    def prompt_line(self) -> str:
        """otto's style: ``weather(location="[location]", day="[day]") description``."""
        args = ", ".join(param.placeholder() for param in self.parameters)
        return f"{self.name}({args}) {self.description}"

    def signature(self) -> str:
        """The call with each argument's type, choices and default, for people (``voxroute skills``)."""
        return f"{self.name}({', '.join(param.signature() for param in self.parameters)})"

    def json_schema(self) -> dict[str, Any]:
        """An OpenAI ``tools`` entry for this skill."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {param.name: param.schema() for param in self.parameters},
                    "required": [param.name for param in self.parameters if param.required],
                    "additionalProperties": False,
                },
            },
        }

    def bind(self, raw: RawCall) -> Call:
        """Check a parsed call against the signature and return it in canonical form."""
        if len(raw.positional) > len(self.parameters):
            raise TooManyArguments(
                f"{self.name}() takes {len(self.parameters)} arguments, {len(raw.positional)} were given"
            )
        # strict=False: fewer positional arguments than parameters is fine (more were refused above)
        given: dict[str, Literal_] = dict(zip((p.name for p in self.parameters), raw.positional, strict=False))
        names = {param.name for param in self.parameters}
        for key, value in raw.keywords:
            if key not in names:
                known = ", ".join(sorted(names)) or "none"
                raise UnknownArgument(f"{self.name}() has no argument {key!r} (it takes: {known})")
            if key in given:
                raise DuplicateArgument(f"{self.name}(): argument {key!r} given twice")
            given[key] = value
        args = []
        for param in self.parameters:
            if param.name not in given:
                if param.required:
                    raise MissingArgument(f"{self.name}() needs the argument {param.name!r}")
                continue
            value = given[param.name]
            param.check(self.name, value)
            if param.required or value != param.default or type(value) is not type(param.default):
                args.append((param.name, value))
        return Call(self.name, tuple(args))

    def check_spans(self, call: Call, said: str) -> None:
        """Raise NotSaid when a span argument of ``call`` is not words of the utterance ``said``."""
        spans = {param.name for param in self.parameters if param.span}
        for name, value in call.args:
            if name in spans and isinstance(value, str) and not is_span(value, said):
                raise NotSaid(f"{self.name}(): {name}={value!r} is not words of what was said")


def skill(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    isolated: bool = False,
    changes: str | None = None,
    reads_only: bool = False,
    confirm: str | None = None,
) -> Any:
    """Mark a function as a skill: ``@skill`` or ``@skill(name="math", isolated=True)``.

    The function is returned unchanged (still callable and testable as plain Python); a skill
    pack finds it by the attribute this sets. ``isolated`` runs it in a child process that is
    killed at the time limit, which holds whatever it computes: for skills that only compute
    (no prompts, no state shared with the assistant, an answer that can be pickled).
    ``changes="timer"`` says this skill changes what that one started, so a follow-up that changes
    an argument of a ``timer`` call ("make it ten") becomes a call of this skill, not a second timer.
    ``reads_only`` says it changes nothing (the weather, the time): when a turn ends early, at a
    short pause, it runs at once, while a skill that acts waits until the speaker has not gone on.
    ``confirm="A timer for {duration}[ called {name}]?"`` is the question asked instead of acting when
    the router is unsure of the call (``[router] confirm_below``); a skill without it acts.
    """

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, SKILL_ATTRIBUTE, Skill.from_function(fn, name, isolated, changes, reads_only, confirm))
        return fn

    return mark(function) if function is not None else mark


def _shown(value: Literal_) -> str:
    """A literal as Python source writes it, strings in double quotes as in the calls the model makes."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _markers(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """Split ``Annotated[T, marker, ...]`` (also inside ``| None``) into (T or T | None, markers)."""
    if typing.get_origin(hint) is typing.Annotated:
        return hint.__origin__, hint.__metadata__
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        markers = tuple(
            m for member in members if typing.get_origin(member) is typing.Annotated for m in member.__metadata__
        )
        if markers:
            plain = [
                member.__origin__ if typing.get_origin(member) is typing.Annotated else member for member in members
            ]
            # A union of members known only at run time: ``X | Y`` cannot spell it, and folding the members with
            # ``|`` would build a types.UnionType where this builds a typing.Union.
            return typing.Union[tuple(plain)], markers  # noqa: UP007
    return hint, ()


def _read_hint(hint: Any, where: str) -> tuple[type, bool, tuple[Literal_, ...] | None]:
    """Split a type hint into (literal type, None allowed, Literal choices)."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        optional = len(members) < len(typing.get_args(hint))
        if len(members) != 1:
            raise TypeError(f"skill parameter {where}: unions other than X | None are not supported")
        hint = members[0]
        origin = typing.get_origin(hint)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        kinds = {type(choice) for choice in choices}
        if len(kinds) != 1 or next(iter(kinds)) not in _TYPES:
            raise TypeError(f"skill parameter {where}: Literal choices must share one of str/int/float/bool")
        return next(iter(kinds)), optional, tuple(choices)
    if hint not in _TYPES:
        raise TypeError(f"skill parameter {where}: type {hint!r} is not one of str, int, float, bool")
    return hint, optional, None
