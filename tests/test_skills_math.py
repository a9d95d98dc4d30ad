"""The math skill: answers in words, clear refusals, and nothing ever executed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skills.math import MAX_QUESTION_CHARS, calculate, math_expression, say_number

ONLY = "numbers, + - * / ** % // and parentheses, sqrt, abs, round, floor, ceil, log, sin, cos, tan, pi and e"


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("12 x 7", "12 times 7 is 84."),
        ("12 times 7", "12 times 7 is 84."),
        ("12*7", "12 times 7 is 84."),
        ("what is 2 + 2?", "2 plus 2 is 4."),
        ("(2 + 3) * 4", "(2 plus 3) times 4 is 20."),
        ("10 / 4", "10 divided by 4 is 2.5."),
        ("10 / 5", "10 divided by 5 is 2."),
        ("1/3", "1 divided by 3 is 0.3333."),
        ("2 / 3", "2 divided by 3 is 0.6667."),
        ("7 // 2", "7 divided without remainder by 2 is 3."),
        ("7 % 3", "7 modulo 3 is 1."),
        ("2 ** 10", "2 to the power of 10 is 1024."),
        ("2 ^ 8", "2 to the power of 8 is 256."),
        ("5 squared", "5 to the power of 2 is 25."),
        ("3 minus 5", "3 minus 5 is -2."),
        ("0.1 + 0.2", "0.1 plus 0.2 is 0.3."),
        ("5000000 ** 2", "5000000 to the power of 2 is 25000000000000."),
        ("2 ** 100", "2 to the power of 100 is about 1.268 times 10 to the power of 30."),
        ("what is 2 to the power of 1024", "2 to the power of 1024 is about 1.798 times 10 to the power of 308."),
        ("round(5, -3) + round(1234.5678, -2)", "The answer is 1200."),
        ("sqrt(16)", "The answer is 4."),
        ("the square root of 2", "The answer is 1.4142."),
        ("abs(-5)", "The answer is 5."),
        ("round(2.567, 2)", "The answer is 2.57."),
        ("floor(2.7) + ceil(2.1)", "The answer is 5."),
        ("log(100, 10)", "The answer is 2."),
        ("cos(pi)", "The answer is -1."),
        ("sin(0)", "The answer is 0."),
        ("e", "The answer is 2.7183."),
        ("3e-9 * 2", "The answer is about 6 times 10 to the power of -9."),
        ("twelve and a half times four", "12.5 times 4 is 50."),
        ("What's 12 and a half times 4", "12.5 times 4 is 50."),
        ("one and a quarter plus two", "1.25 plus 2 is 3.25."),
        ("two and three quarters minus a half", "2.75 minus 0.5 is 2.25."),
        ("half of 326", "0.5 times 326 is 163."),
        ("three quarters of eighty", "0.75 times 80 is 60."),
        ("one and a third times three", "(4 divided by 3) times 3 is 4."),
        ("a hundred divided by four", "100 divided by 4 is 25."),
        ("three point one four times two", "3.14 times 2 is 6.28."),
        ("two million three thousand plus one", "2003000 plus 1 is 2003001."),  # word2number: 2004003
        ("what is 1 million twelve hundred divided by 400 thousand", "1001200 divided by 400000 is 2.503."),
        ("1.5 million minus twelve hundred thousand", "1500000 minus 1200000 is 300000."),
    ],
)
def test_answers(question: str, answer: str) -> None:
    assert calculate(question) == answer


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (84, "84"),
        (84.0, "84"),
        (3.14159, "3.1416"),
        (0.000123456, "0.0001235"),
        (-2.5, "-2.5"),
        (10**20, "1 times 10 to the power of 20"),
        (2**64, "about 1.845 times 10 to the power of 19"),
    ],
)
def test_say_number(value: float, words: str) -> None:
    assert say_number(value) == words


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("1 / 0", "I can't divide by zero in '1 / 0'."),
        ("5 % 0", "I can't divide by zero in '5 % 0'."),
        ("2 +* 3", "I can't work out '2 +* 3': it isn't an arithmetic expression I understand."),
        ("(1 + 2", "I can't work out '(1 + 2': it isn't an arithmetic expression I understand."),
        ("3 > 2", "I can't work out '3 > 2': it isn't an arithmetic expression I understand."),
        ("1; 2", "I can't work out '1; 2': it isn't an arithmetic expression I understand."),
        ("'ab' * 1000000000", "I can't work out ''ab' * 1000000000': it isn't an arithmetic expression I understand."),
        ("foo(2)", f"I can't work out 'foo(2)': I only know {ONLY}."),
        ("x + 1", f"I can't work out 'x + 1': I only know {ONLY}."),
        ("(1).__class__", f"I can't work out '(1).__class__': I only know {ONLY}."),
        ("9 ** 9 ** 9", "The numbers in '9 ** 9 ** 9' are too big for me."),
        ("10.0 ** 400", "The numbers in '10.0 ** 400' are too big for me."),
        ("1e308 * 10", "The numbers in '1e308 * 10' are too big for me."),
        ("round(5, -1000000000)", "The numbers in 'round(5, -1000000000)' are too big for me."),
        ("(10**500)*(10**500)*(10**500)", "The numbers in '(10**500)*(10**500)*(10**500)' are too big for me."),
        ("floor(10**999 / 3)", "The numbers in 'floor(10**999 / 3)' are too big for me."),
        ("sqrt(-1)", "'sqrt(-1)' has no answer in real numbers."),
        ("(-8) ** 0.5", "'(-8) ** 0.5' has no answer in real numbers."),
        ("log(0)", "'log(0)' has no answer in real numbers."),
        ("  ", "I didn't get a question to work out."),
    ],
)
def test_errors_name_the_expression(question: str, answer: str) -> None:
    assert calculate(question) == answer


def test_code_is_refused_and_never_runs(capfd: pytest.CaptureFixture[str]) -> None:
    attack = "__import__('os').system('echo hacked')"
    assert calculate(attack) == f"I can't work out '{attack}': I only know {ONLY}."
    escape = "().__class__.__base__.__subclasses__()"
    assert calculate(escape) == f"I can't work out '{escape}': I only know {ONLY}."
    assert "hacked" not in capfd.readouterr().out


def test_the_skill_runs_in_its_own_process_under_the_time_limit() -> None:
    """Whatever the arithmetic, the dispatcher answers within its limit (the skill is isolated)."""
    import time

    from assistant.runtime.dispatch import Dispatcher
    from assistant.runtime.pack import load_pack

    pack = load_pack()
    assert pack.skills["math"].isolated
    start = time.perf_counter()
    outcome = Dispatcher(pack, timeout_s=5).run(pack.parse('math(question="round(5, -1000000000)")'))
    assert outcome.answer == "The numbers in 'round(5, -1000000000)' are too big for me."
    assert time.perf_counter() - start < 5


def test_a_question_longer_than_anyone_says_is_refused_before_it_is_parsed() -> None:
    deep = "-" * 3900 + "1"  # under the call reader's limit; ast.parse would recurse past Python's limit
    assert math_expression(deep) is None
    assert calculate(deep) == f"That question is too long to work out: at most {MAX_QUESTION_CHARS} characters."


@pytest.mark.parametrize(
    "question",
    [
        "million thousand million",  # word2number raised IndexError on such runs
        "three billion million",
        "thousand million",
        "one thousand two thousand",
        "hundred hundred",
        "point",
        "one point",
        "a half quarter",
    ],
)
def test_number_words_that_are_no_one_number_are_refused_not_raised(question: str) -> None:
    assert math_expression(question) is None
    assert calculate(question).startswith("I can't work out")


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("two three times four", "it isn't an arithmetic expression I understand"),
        ("twelve and a half and a half", f"I only know {ONLY}"),  # "12.5 and 0.5" would be 0.5 in Python
        ("1 if 2 else 3", f"I only know {ONLY}"),
    ],
)
def test_words_left_over_are_refused_not_read_as_python(question: str, why: str) -> None:
    assert calculate(question) == f"I can't work out '{question}': {why}."


SPOKEN = ["one", "twelve", "twenty", "hundred", "thousand", "million", "billion", "point", "and", "a", "half"]
SPOKEN += ["quarter", "quarters", "third", "of", "times", "plus", "divided by", "1", "400", "1.5", "-", "zero"]


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(st.sampled_from(SPOKEN), max_size=12))
def test_any_run_of_number_words_gives_an_answer_or_a_refusal(words: list[str]) -> None:
    """Whatever words a transcript strings together, the skill answers or refuses in words; nothing raises."""
    question = " ".join(words)
    expression = math_expression(question)
    assert expression is None or expression == expression.strip()
    assert calculate(question).endswith((".", "?"))
