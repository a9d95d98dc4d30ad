"""A Lark grammar, derived from a skill pack, that accepts exactly the canonical calls.

The router decodes under this grammar (llguidance), so every output parses and validates: one
to three calls separated by ``"; "``, registered names only, keyword arguments in signature
order, required ones present, values of the right type or among a Literal's choices, strings as
JSON-style double-quoted literals (so quotes, backslashes and punctuation inside them are fine).
Given the utterance, a ``Span`` parameter's value is further limited to words copied from it
(:mod:`assistant.routing.spans`), so the grammar is then built per request.
"""

from __future__ import annotations

import json

from assistant.routing.calls import MAX_CALLS, SEPARATOR, UNFINISHED_MARK
from assistant.routing.spans import span_terminal
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Parameter, Skill

_TERMINALS = {
    str: r'STRING: /"(\\(["\\\/bfnrt]|u[0-9a-fA-F]{4})|[^"\\\x00-\x1F\x7F])+"/',
    int: r"INT: /-?(0|[1-9][0-9]*)/",
    float: r"NUMBER: /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/",
    bool: r'BOOL: "True" | "False"',
}
_TERMINAL_NAMES = {str: "STRING", int: "INT", float: "NUMBER", bool: "BOOL"}


def _lark_literal(text: str) -> str:
    return json.dumps(text)


def _value(param: Parameter, spans: bool) -> str:
    if param.choices is not None:
        return "(" + " | ".join(_lark_literal(_literal_text(choice)) for choice in param.choices) + ")"
    if param.span and spans:
        return '"\\"" SPAN "\\""'
    return _TERMINAL_NAMES[param.type]


def _literal_text(choice: object) -> str:
    return json.dumps(choice) if isinstance(choice, str) else repr(choice)


def _skill_rules(skill: Skill, rule: str, spans: bool) -> list[str]:
    """Rules for one skill: ``rule: "name(" args? ")"``, linear in the number of parameters.

    ``{rule}_e{i}`` is a non-empty argument list drawn from parameters i.. in order, starting
    without a comma; an optional parameter may be skipped, a required one may not.
    """
    params = skill.parameters
    pieces = [f"{_lark_literal(p.name + '=')} {_value(p, spans)}" for p in params]
    rules = []

    def tail(start: int) -> str:
        parts = []
        for index in range(start, len(params)):
            item = f'(", " {pieces[index]})'
            parts.append(item if params[index].required else item + "?")
        return " ".join(parts)

    reachable = min(1, len(params))  # e0, then one more for each leading optional parameter that may be skipped
    while reachable < len(params) and not params[reachable - 1].required:
        reachable += 1
    for index in reversed(range(reachable)):
        first = f"{pieces[index]} {tail(index + 1)}".strip()
        alternatives = [first]
        if not params[index].required and index + 1 < len(params):
            alternatives.append(f"{rule}_e{index + 1}")
        rules.append(f"{rule}_e{index}: " + " | ".join(alternatives))
    opening = _lark_literal(skill.name + "(")
    if not params:
        head = f'{rule}: {opening} ")"'
    elif any(p.required for p in params):
        head = f'{rule}: {opening} {rule}_e0 ")"'
    else:
        head = f'{rule}: {opening} {rule}_e0? ")"'
    return [head, *reversed(rules)]


def _more_calls(count: int) -> str:
    """``("; " call ("; " call)?)?`` for up to ``count`` more calls."""
    if not count:
        return ""
    inner = _more_calls(count - 1)
    return f"({json.dumps(SEPARATOR)} call{' ' + inner if inner else ''})?"


def has_spans(pack: SkillPack) -> bool:
    return any(param.span for skill in pack.skills.values() for param in skill.parameters)


def call_grammar(pack: SkillPack, said: str | None = None, lead: str = "", unfinished: bool = False) -> str:
    """The Lark grammar of one to three canonical calls of the pack's skills separated by ``"; "``,
    after the template's ``lead`` (spaces; see :mod:`assistant.routing.prompting`); with ``said``, spans
    copy from it; with ``unfinished``, the unfinished mark is allowed instead of calls."""
    spans = said is not None and has_spans(pack)
    names = [f"s{index}" for index in range(len(pack.skills))]
    calls = f"call {_more_calls(MAX_CALLS - 1)}".rstrip()
    if unfinished:
        calls = f"({calls}) | {json.dumps(UNFINISHED_MARK)}"
    lines = [
        f"start: {json.dumps(lead) + ' ' if lead else ''}{'(' + calls + ')' if lead and unfinished else calls}",
        f"call: {' | '.join(names)}",
    ]
    used: set[type] = set()
    for rule, skill in zip(names, pack.skills.values(), strict=True):
        lines.extend(_skill_rules(skill, rule, spans))
        used.update(p.type for p in skill.parameters if p.choices is None and not (p.span and spans))
    lines.extend(_TERMINALS[kind] for kind in (str, int, float, bool) if kind in used)
    if spans:
        lines.append(span_terminal("SPAN", said or ""))
    return "\n".join(lines) + "\n"
