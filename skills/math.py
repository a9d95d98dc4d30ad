"""Arithmetic, evaluated by simpleeval on a closed set of operators and functions (never eval).

Bounded twice: every operand and result has at most LARGEST_DIGITS digits (so no step can take
long or fill memory), and the skill is isolated, so its process is killed at the time limit.
"""

from __future__ import annotations

import ast
import math as m
import operator
import re
import warnings
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

import simpleeval

from assistant.runtime.skill import Resolver, skill
from assistant.runtime.spoken_numbers import FRACTION_WORDS, NUMBER_WORDS, spoken_amount

LARGEST_DIGITS = 1000
MAX_QUESTION_CHARS = 300  # a spoken question is far shorter; a longer one could drive the parser's recursion
_LARGEST_BITS = m.ceil(LARGEST_DIGITS * m.log2(10))
NAMES = {"pi": m.pi, "e": m.e}
KNOWN = "numbers, + - * / ** % // and parentheses, sqrt, abs, round, floor, ceil, log, sin, cos, tan, pi and e"

# Spoken arithmetic, as it may reach us from a transcript, rewritten in order.
WORDS = [
    (r"^(what is|what's|how much is|calculate|compute)\s+", ""),
    (r"\b(the )?square root of\s*([\d.]+|\([^()]*\))", r"sqrt(\2)"),
    (r"\bsquared\b", " ** 2 "),
    (r"\bto the power of\b", " ** "),
    (r"\bmultiplied by\b", " * "),
    (r"\bdivided by\b", " / "),
    (r"\btimes\b", " * "),
    (r"\bplus\b", " + "),
    (r"\bminus\b", " - "),
    (r"\bmod(ulo)?\b", " % "),
    (r"(?<=[\d)\s])x(?=[\s\d(])", " * "),
    (r"\^", " ** "),
]
SPOKEN = {
    "**": "to the power of",
    "//": "divided without remainder by",
    "*": "times",
    "/": "divided by",
    "+": "plus",
    "-": "minus",
    "%": "modulo",
}
NOT_ALLOWED = (
    simpleeval.NameNotDefined,
    simpleeval.FunctionNotDefined,
    simpleeval.FeatureNotAvailable,
    simpleeval.OperatorNotDefined,
    simpleeval.AttributeDoesNotExist,
)


# Runs of spoken numbers: "twenty five", "one hundred and two", "three point five", "1 million twelve hundred",
# "a thousand", "twelve and a half", "three quarters", and "half of" (a fraction of what follows).
_WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_PART = "|".join(sorted(FRACTION_WORDS, key=len, reverse=True))
_COUNT = r"(?:\d+(?:\.\d+)?|an?)[\s-]+(?=(?:hundred|thousand|million|billion)\b)"  # "400 thousand", "a hundred"
_RUN = rf"(?:{_COUNT})?(?:{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD}))*"
_FRACTION = rf"(?:(?:an?|{_WORD}|\d+)[\s-]+)?(?:{_PART})"
SPOKEN_NUMBERS = re.compile(
    rf"\b(?:(?P<mixed>(?:{_RUN}|\d+(?:\.\d+)?)[\s-]+and[\s-]+{_FRACTION})"
    rf"|(?P<fraction>{_FRACTION})(?P<of>[\s-]+of\b)?"
    rf"|{_RUN})\b"
)


class _TooBig(simpleeval.NumberTooHigh):
    """An operand or result with more than LARGEST_DIGITS digits."""


def words_to_digits(text: str) -> str:
    """'nine times twenty five' becomes '9 times 25', 'twelve and a half' '12.5', 'half of 8' '0.5 * 8' (runs
    that are not one number are left alone)."""

    def number(match: re.Match[str]) -> str:
        value = spoken_amount(match.group(0) if match["of"] is None else match["fraction"])
        if value is None:
            return match.group(0)
        return _digits(value) + (" * " if match["of"] else "")

    return SPOKEN_NUMBERS.sub(number, text)


def _digits(value: Fraction) -> str:
    """A number as an expression writes it: '12.5', '1001200', or '(4/3)' where no decimal is exact."""
    twos, fives = _factor_count(value.denominator, 2), _factor_count(value.denominator, 5)
    if value.denominator != 2**twos * 5**fives:
        return f"({value.numerator}/{value.denominator})"
    places = max(twos, fives)
    digits = str(abs(value.numerator) * 10**places // value.denominator).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return sign + (f"{digits[:-places]}.{digits[-places:]}" if places else digits)


def _factor_count(number: int, factor: int) -> int:
    """How many times ``factor`` divides ``number``."""
    count = 0
    while number % factor == 0:
        number, count = number // factor, count + 1
    return count


def math_expression(question: str) -> str | None:
    """The arithmetic a question asks for, as a compact expression with digits ('9*9'); None if it is none
    (or longer than anyone says: :data:`MAX_QUESTION_CHARS`, checked before the parser can recurse)."""
    if len(question) > MAX_QUESTION_CHARS:
        return None
    expression = to_expression(" ".join(question.split()).rstrip("?= ")).replace(" ", "")
    if not re.search(r"\d", expression):
        return None
    try:
        with warnings.catch_warnings():  # "12.5and0.5" warns of an invalid literal on its way to parsing
            warnings.simplefilter("ignore", SyntaxWarning)
            ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return expression


@skill(name="math", isolated=True, reads_only=True)
def calculate(
    question: Annotated[str, Resolver(math_expression, "What should I work out? Say it like twelve times seven.")],
) -> str:
    """Work out an arithmetic question, like 12 times 7 or the square root of 2."""
    asked = " ".join(question.split()).rstrip("?= ")
    if not asked:
        return "I didn't get a question to work out."
    if len(asked) > MAX_QUESTION_CHARS:
        return f"That question is too long to work out: at most {MAX_QUESTION_CHARS} characters."
    expression = to_expression(asked)
    try:
        value = _evaluate(expression)
    except ZeroDivisionError:
        return f"I can't divide by zero in '{asked}'."
    except (_TooBig, OverflowError):
        return f"The numbers in '{asked}' are too big for me."
    except NOT_ALLOWED:
        return f"I can't work out '{asked}': I only know {KNOWN}."
    except ValueError:
        return f"'{asked}' has no answer in real numbers."
    except (simpleeval.InvalidExpression, SyntaxError, TypeError, KeyError, Warning):
        return f"I can't work out '{asked}': it isn't an arithmetic expression I understand."
    if isinstance(value, complex):
        return f"'{asked}' has no answer in real numbers."
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"I can't work out '{asked}': it isn't an arithmetic expression I understand."
    if isinstance(value, float) and not m.isfinite(value):
        return f"The numbers in '{asked}' are too big for me."
    if re.fullmatch(r"[\d.\s()+\-*/%]+", expression):
        return f"{_spoken(expression)} is {say_number(value)}."
    return f"The answer is {say_number(value)}."


def to_expression(question: str) -> str:
    """'what is 12 times 7' becomes '12 * 7'."""
    text = words_to_digits(question.casefold())
    for pattern, replacement in WORDS:
        text = re.sub(pattern, replacement, text)
    return " ".join(text.split())


def say_number(value: int | float) -> str:
    """84, 3.1416, 0.0001235, or 'about 1.268 times 10 to the power of 30' for the very large or small."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if value == 0 or (isinstance(value, int) and abs(value) < 10**15):
        return str(value)
    magnitude = abs(value)
    if 1e-6 <= magnitude < 1e15:
        decimals = 4 if magnitude >= 1 else 3 - m.floor(m.log10(magnitude))
        return f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    rounded = f"{Decimal(value):.3e}"
    mantissa, exponent = rounded.split("e")
    about = "" if Decimal(rounded) == Decimal(value) else "about "
    return f"{about}{mantissa.rstrip('0').rstrip('.')} times 10 to the power of {int(exponent)}"


def _power(base: int | float, exponent: int | float) -> int | float:
    """``**`` that refuses results too large to be worth computing (simpleeval's limit refuses 5000000 ** 2)."""
    if abs(base) > 1 and exponent > 0 and exponent * m.log10(abs(base)) > LARGEST_DIGITS:
        raise _TooBig(f"{base} ** {exponent} is too large")
    return base**exponent


def _bounded(function: Callable[..., Any]) -> Callable[..., Any]:
    """An operator or function that takes and gives only numbers of at most LARGEST_DIGITS digits.

    Anything but numbers is refused ('a' * 10**9 would build a gigabyte string), and so is an
    integer too long to be worth computing with (round(5, -10**9) would build 10**(10**9)).
    """

    def checked(*operands: Any) -> Any:
        if any(isinstance(value, bool) or not isinstance(value, (int, float)) for value in operands):
            raise TypeError("only numbers are allowed")
        if any(isinstance(value, int) and abs(value).bit_length() > _LARGEST_BITS for value in operands):
            raise _TooBig("an operand is too large")
        result = function(*operands)
        if isinstance(result, int) and abs(result).bit_length() > _LARGEST_BITS:
            raise _TooBig("the result is too large")
        return result

    return checked


def _round(value: int | float, digits: int = 0) -> int | float:
    """``round`` whose digits stay within LARGEST_DIGITS either way."""
    if not isinstance(digits, int) or abs(digits) > LARGEST_DIGITS:
        raise _TooBig("too many digits to round to")
    return round(value, digits) if digits else round(value)


_UNBOUNDED_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": m.sqrt,
    "abs": abs,
    "round": _round,
    "floor": m.floor,
    "ceil": m.ceil,
    "log": m.log,
    "sin": m.sin,
    "cos": m.cos,
    "tan": m.tan,
}
FUNCTIONS = {name: _bounded(function) for name, function in _UNBOUNDED_FUNCTIONS.items()}


_UNBOUNDED_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
OPERATORS = {node: _bounded(function) for node, function in _UNBOUNDED_OPERATORS.items()}


def _evaluate(expression: str) -> object:
    evaluator = simpleeval.SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names=NAMES)
    # "and", "or" and "if" are no arithmetic: "twelve and a half and a half" is "12.5 and 0.5", not 0.5.
    for node in (ast.BoolOp, ast.IfExp):
        del evaluator.nodes[node]
    with warnings.catch_warnings():
        # simpleeval only warns about "1; 2" or "x = 1": refuse them instead.
        warnings.simplefilter("error")
        return evaluator.eval(expression)


def _spoken(expression: str) -> str:
    """'12 * 7' read aloud: '12 times 7'."""
    return re.sub(r"\s*(\*\*|//|[*/+%-])\s*", lambda match: f" {SPOKEN[match.group(1)]} ", expression).strip()
