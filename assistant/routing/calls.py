"""Safe parsing and canonical printing of skill calls.

Model output is data, never code: a call is read with :mod:`ast` and only literal arguments
are accepted. Nothing here evaluates, imports or looks up anything the text names.

What small models really emit around a call is tolerated and stripped (see :func:`clean`):
surrounding whitespace and backticks, a ``FUNCTION_CALL:`` or ``Assistant:`` prefix, and
trailing end-of-turn tokens such as ``<|im_end|>``, ``</s>`` or ``<|eot_id|>``.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
import warnings
from dataclasses import dataclass

from assistant.errors import VoxrouteError

Literal_ = str | int | float | bool | None

MAX_CALL_CHARS = 4000
# Tokens outside strings of the calls of one utterance: three calls of 14 literal arguments need about 220. Every
# nesting level or operator of an expression is a token, so this bounds what ast.parse recurses through.
MAX_CALL_TOKENS = 400
MAX_CALLS = 3  # calls in one utterance ("set a timer and tell me the weather")
SEPARATOR = "; "
CONNECTIVES = (  # how a compound command joins what it asks for, as the training data says it
    "{a} and {b}",
    "{a} then {b}",
    "{a} and also {b}",
    "{a}, after that {b}",
    "{a} and then {b}",
    "{a}, also {b}",
    "{a} plus {b}",
    "{a}, and {b}",
)
UNFINISHED_MARK = "..."  # what the router writes while a request is still being spoken ("set a timer for")

END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>", "<eos>")
_PREFIX = re.compile(r"^(?:FUNCTION_CALL\s*:|#*\s*Assistant\s*:)\s*", re.IGNORECASE)


class CallError(VoxrouteError, ValueError):
    """A call was rejected; the message says why in words a person can act on."""


class CallSyntaxError(CallError):
    """The text is not exactly one call with literal arguments."""


class UnknownSkill(CallError):
    """The call names no registered skill."""


class UnknownArgument(CallError):
    """An argument name the skill does not have."""


class MissingArgument(CallError):
    """A required argument was not given."""


class DuplicateArgument(CallError):
    """One argument given twice (by keyword twice, or by position and keyword)."""


class TooManyArguments(CallError):
    """More positional arguments than the skill has parameters."""


class WrongType(CallError):
    """An argument value of the wrong type."""


class InvalidChoice(CallError):
    """A value outside a ``Literal[...]`` parameter's choices."""


class NotSaid(CallError):
    """A span argument whose value is not words of the utterance."""


@dataclass(frozen=True)
class RawCall:
    """A syntactically valid call, not yet checked against any skill."""

    name: str
    positional: tuple[Literal_, ...]
    keywords: tuple[tuple[str, Literal_], ...]


@dataclass(frozen=True)
class Call:
    """A validated call: arguments bound to names, in the signature's order, defaults omitted."""

    name: str
    args: tuple[tuple[str, Literal_], ...] = ()

    @property
    def kwargs(self) -> dict[str, Literal_]:
        return dict(self.args)

    def __str__(self) -> str:
        inner = ", ".join(f"{key}={format_literal(value)}" for key, value in self.args)
        return f"{self.name}({inner})"


class Calls(tuple[Call, ...]):
    """The calls of one utterance in the order said, printed as the router writes them: ``a(); b()``."""

    unfinished = False

    def __str__(self) -> str:
        return SEPARATOR.join(str(call) for call in self)


class _Unfinished(Calls):
    """No call yet: the request is not complete ("what's the weather in"). Not a skill, never dispatched;
    the router may write it only when asked whether a partial transcript is finished."""

    unfinished = True

    def __str__(self) -> str:
        return UNFINISHED_MARK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unfinished)

    def __ne__(self, other: object) -> bool:
        return not isinstance(other, _Unfinished)

    def __hash__(self) -> int:
        return hash(UNFINISHED_MARK)


UNFINISHED = _Unfinished()


def finished_calls(text: str) -> list[str]:
    """The calls of a partly decoded output that are closed (strings respected): by a separator (or the
    start of one: a decoder's token may end with ``;``), or the last one by its closing parenthesis, after
    which the call grammar allows only a separator or the end. So a call can run before the router has
    decoded whether another follows."""
    pieces, start, quoted, escaped, depth = [], 0, False, False, 0
    for index, char in enumerate(text):
        if quoted:
            quoted, escaped = (escaped or char != '"'), (not escaped and char == "\\")
        elif char == '"':
            quoted = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif text.startswith(SEPARATOR, index) or (
            len(text) - index < len(SEPARATOR) and SEPARATOR.startswith(text[index:])
        ):
            pieces.append(text[start:index])
            start = index + len(SEPARATOR)
    if not quoted and depth == 0 and text.endswith(")"):
        pieces.append(text[start:])
    return pieces


def format_literal(value: Literal_) -> str:
    """Print a literal so that :func:`parse_call` reads it back identically (double-quoted strings)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def clean(text: str) -> str:
    """Strip the wrapping small models put around a call (documented in the module docstring)."""
    text = text.strip()
    changed = True
    while changed:
        before = text
        for token in END_OF_TURN_TOKENS:
            if text.endswith(token):
                text = text[: -len(token)].rstrip()
        text = _PREFIX.sub("", text).strip().strip("`").strip()
        changed = text != before
    return text


def parse_call(text: str) -> RawCall:
    """Read exactly one call ``name(args)`` whose arguments are literals; raise CallSyntaxError otherwise."""
    calls = parse_calls(text)
    if len(calls) != 1:
        raise CallSyntaxError(f"expected one call, got {len(calls)}: {clean(text)!r}")
    return calls[0]


def parse_calls(text: str) -> tuple[RawCall, ...]:
    """Read one to three calls on one line, separated by ``"; "`` exactly; raise CallSyntaxError otherwise."""
    text = clean(text)
    if not text:
        raise CallSyntaxError("empty output: expected a call such as other()")
    if len(text) > MAX_CALL_CHARS:
        raise CallSyntaxError(f"output is {len(text)} characters long, more than a call may be ({MAX_CALL_CHARS})")
    if "\n" in text or "\r" in text:
        raise CallSyntaxError(f"calls are written on one line, separated by {SEPARATOR!r}: {text[:80]!r}")
    _check_tokens(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="exec")
    except SyntaxError as error:
        raise CallSyntaxError(f"not a call: {error.msg} in {text!r}") from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise CallSyntaxError(f"not a call: {type(error).__name__} while reading {text[:80]!r}") from None
    if not 1 <= len(tree.body) <= MAX_CALLS:
        raise CallSyntaxError(f"expected one to {MAX_CALLS} calls, got {len(tree.body)} statements: {text[:80]!r}")
    nodes = [statement.value if isinstance(statement, ast.Expr) else statement for statement in tree.body]
    pieces = [ast.get_source_segment(text, node) for node in nodes]
    if SEPARATOR.join(piece or "" for piece in pieces) != text:
        raise CallSyntaxError(f"calls are separated by {SEPARATOR!r} and nothing else: {text[:80]!r}")
    return tuple(_raw_call(node, piece or "") for node, piece in zip(nodes, pieces, strict=True))


def _check_tokens(text: str) -> None:
    """Refuse text that nests or chains deeper than calls of literals ever do, and f-strings (code inside
    a string), before ast.parse recurses through it (a RecursionError or MemoryError): one linear pass."""
    count = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            prefix = re.match(r"[A-Za-z]*(?=['\"])", token.string)
            if prefix is not None and "f" in prefix.group().lower():
                raise CallSyntaxError(f"arguments must be literals, not f-strings: {text[:80]!r}")
            count += token.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)
            if count > MAX_CALL_TOKENS:
                raise CallSyntaxError(
                    f"more than {MAX_CALL_TOKENS} tokens, more than calls of literals ever have "
                    f"(nested or chained expressions): {text[:80]!r}"
                )
    except (tokenize.TokenError, SyntaxError):  # what it read was counted; ast.parse says what is wrong
        return


def _raw_call(node: ast.AST, text: str) -> RawCall:
    if not isinstance(node, ast.Call):
        raise CallSyntaxError(f"expected a call such as other(), got a {type(node).__name__}: {text!r}")
    if not isinstance(node.func, ast.Name):
        raise CallSyntaxError(f"the called thing must be a plain skill name: {text!r}")
    positional = tuple(_literal(arg, node.func.id) for arg in node.args)
    keywords = []
    for keyword in node.keywords:
        if keyword.arg is None:
            raise CallSyntaxError(f"**-unpacking is not allowed in {text!r}")
        keywords.append((keyword.arg, _literal(keyword.value, node.func.id)))
    return RawCall(node.func.id, positional, tuple(keywords))


def _literal(node: ast.expr, skill: str) -> Literal_:
    """Accept a constant str/int/float/bool/None, or a negated number; nothing else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand, skill)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    elif isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (str, int, float, bool))):
        return node.value
    raise CallSyntaxError(
        f"arguments of {skill}() must be literals (text, numbers, True/False/None), "
        f"got a {type(node).__name__} expression"
    )
