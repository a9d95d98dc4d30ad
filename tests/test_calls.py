"""The safe call parser: accepted forms, rejected forms, canonical round trips, and fuzzing."""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.routing.calls import (
    Call,
    CallError,
    CallSyntaxError,
    DuplicateArgument,
    InvalidChoice,
    MissingArgument,
    TooManyArguments,
    UnknownArgument,
    UnknownSkill,
    WrongType,
    clean,
    finished_calls,
    parse_call,
    parse_calls,
)
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Skill


def weather(location: str | None = None, day: str | None = None) -> str:
    """Ask for the weather."""
    return ""


def math(question: str) -> str:
    """Calculate an arithmetic expression."""
    return ""


def ask(question: str) -> str:
    """Ask a general question."""
    return ""


def notes(action: Literal["add", "list"], note: str | None = None) -> str:
    """Add or list notes."""
    return ""


def volume(level: int, relative: bool = False, gain: float = 1.0) -> str:
    """Set the volume."""
    return ""


def other() -> str:
    """Speech not meant for the assistant."""
    return ""


PACK = SkillPack.from_skills(Skill.from_function(f) for f in (weather, math, ask, notes, volume, other))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('weather(location="Berlin")', 'weather(location="Berlin")'),
        ("weather(day='tomorrow', location='Berlin')", 'weather(location="Berlin", day="tomorrow")'),
        ('weather("Berlin", "tomorrow")', 'weather(location="Berlin", day="tomorrow")'),
        ("weather(location=None)", "weather()"),
        ("  other()  <|im_end|>", "other()"),
        ("FUNCTION_CALL: other()</s>", "other()"),
        ("```other()```", "other()"),
        ("### Assistant: other()", "other()"),
        ('notes(action="add", note="buy milk")', 'notes(action="add", note="buy milk")'),
        ("volume(5, relative=True)", "volume(level=5, relative=True)"),
        ("volume(level=-3, gain=2)", "volume(level=-3, gain=2)"),
        ("volume(level=3, relative=False, gain=1.0)", "volume(level=3)"),
    ],
)
def test_accepted_forms_print_canonically(text: str, expected: str) -> None:
    assert str(PACK.parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("", CallSyntaxError, "empty"),
        ("weather", CallSyntaxError, "expected a call"),
        ("weather(location=Berlin)", CallSyntaxError, "literals"),
        ("os.system('ls')", CallSyntaxError, "plain skill name"),
        ("weather(**{'location': 'x'})", CallSyntaxError, "unpacking"),
        ("weather(location='a') other()", CallSyntaxError, "not a call"),
        ("weather(location=f'{x}')", CallSyntaxError, "literals"),
        ("weather(location='a' + 'b')", CallSyntaxError, "literals"),
        ("weather(location=(lambda: 1)())", CallSyntaxError, "literals"),
        ("weather(location=['a'])", CallSyntaxError, "literals"),
        ("weather(location='a', location='b')", DuplicateArgument, "given twice"),
        ("launch(program='rm')", UnknownSkill, "unknown skill 'launch'"),
        ("weather(city='Berlin')", UnknownArgument, "no argument 'city'"),
        ("math()", MissingArgument, "needs the argument 'question'"),
        ("weather('Berlin', location='Paris')", DuplicateArgument, "given twice"),
        ("other(1)", TooManyArguments, "takes 0 arguments"),
        ("math(question=12)", WrongType, "must be str"),
        ("volume(level=True)", WrongType, "must be int"),
        ("volume(level='5')", WrongType, "must be int"),
        ("math(question=None)", WrongType, "may not be None"),
        ("notes(action='delete')", InvalidChoice, "is not one of 'add', 'list'"),
    ],
)
def test_rejected_forms_say_why(text: str, error: type[CallError], words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        PACK.parse(text)


@pytest.mark.parametrize(
    "call",
    [
        Call("math", (("question", "sqrt(16)"),)),
        Call("ask", (("question", "What's the time, Otto?"),)),
        Call("ask", (("question", 'He said "hi" \\ then left\nand a tab\t.'),)),
        Call("ask", (("question", "Ünïcödé, 日本語 and emoji 🎉"),)),
        Call("weather", (("location", "Rio de Janeiro"), ("day", "weekend"))),
        Call("notes", (("action", "add"), ("note", "call (555) 123-4567, then 'email' Bob"))),
    ],
)
def test_round_trip_parse_canonical_parse(call: Call) -> None:
    printed = str(call)
    assert PACK.parse(printed) == call
    assert str(PACK.parse(printed)) == printed


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60))
def test_any_string_value_round_trips(value: str) -> None:
    call = Call("ask", (("question", value),))
    assert PACK.parse(str(call)) == call


INJECTIONS = [
    "__import__('os').system('touch {marker}')",
    "other(__import__('os').system('touch {marker}'))",
    "weather(location=open('{marker}', 'w').write('x'))",
    "other().__class__.__bases__[0].__subclasses__()",
    "weather(location=(lambda: __import__('os').system('touch {marker}'))())",
    "weather(location=f\"{{__import__('os').system('touch {marker}')}}\")",
    "exec(\"open('{marker}','w')\")",
    "eval(\"open('{marker}','w')\")",
    "[other() for _ in range(10**9)]",
    "weather(location='x'); __import__('os').system('touch {marker}')",
    "other(\n)\nimport os",
    "(" * 500 + "other()" + ")" * 500,
    "other(" + "[" * 5000 + "]" * 5000 + ")",
]


@pytest.mark.parametrize("template", INJECTIONS)
def test_code_injection_never_executes(template: str, tmp_path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(CallError):
        PACK.parse(template.format(marker=marker))
    assert not marker.exists()


@settings(max_examples=400)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_call_errors(text: str) -> None:
    try:
        call = PACK.parse(text)
    except CallError:
        return
    assert PACK.parse(str(call)) == call


@settings(max_examples=200)
@given(
    st.sampled_from(["weather", "math", "ask", "other", "os.system", "__import__", "exec"]),
    st.lists(
        st.one_of(
            st.text(max_size=20).map(repr),
            st.integers().map(str),
            st.sampled_from(["None", "True", "x", "[1]", "{}", "lambda: 0", "__import__('os')", "*a", "**k"]),
        ),
        max_size=3,
    ),
)
def test_call_shaped_fuzz_only_raises_call_errors(name: str, args: list[str]) -> None:
    with suppress(CallError):
        PACK.parse(f"{name}({', '.join(args)})")


def test_clean_strips_only_the_documented_wrapping() -> None:
    assert clean(" FUNCTION_CALL: other() <|im_end|>\n") == "other()"
    assert clean("other()<|eot_id|>") == "other()"
    assert clean('ask(question="</s>")') == 'ask(question="</s>")'


def test_null_bytes_and_overlong_output_are_rejected() -> None:
    with pytest.raises(CallSyntaxError):
        parse_call("other(\x00)")
    with pytest.raises(CallSyntaxError, match="characters long"):
        parse_call('ask(question="' + "a" * 5000 + '")')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("math(question=" + "-" * 3000 + "1)", "more than 400 tokens"),  # ast.parse: RecursionError
        ("math(question=" + "1+" * 1500 + "1)", "more than 400 tokens"),
        ("math(question=" + "a." * 1500 + "a)", "more than 400 tokens"),
        ("math(question=" + "not " * 900 + "1)", "more than 400 tokens"),
        ('math(question=f"{' + "-" * 3000 + '1}")', "arguments must be literals, not f-strings"),
        ('math(question=Rf"{x}")', "arguments must be literals, not f-strings"),
        ("math(question=" + "-" * 100_000 + "1)", "characters long"),  # ast.parse: MemoryError
    ],
)
def test_deeply_nested_or_chained_text_is_refused_in_one_line_before_it_is_parsed(text: str, message: str) -> None:
    with pytest.raises(CallSyntaxError) as caught:
        PACK.parse(text)
    assert message in str(caught.value) and "\n" not in str(caught.value) and len(str(caught.value)) < 250


def test_the_token_bound_leaves_room_for_three_calls_of_many_arguments() -> None:
    many = "; ".join(f"f{n}(" + ", ".join(f"a{i}=-{i}" for i in range(14)) + ")" for n in range(3))
    calls = parse_calls(many)
    assert [call.name for call in calls] == ["f0", "f1", "f2"] and calls[2].keywords[13] == ("a13", -13)
    text_in_strings = 'math(question="' + "(" * 3000 + '")'  # brackets inside a string are text, not nesting
    assert PACK.parse(text_in_strings).kwargs["question"] == "(" * 3000


def test_parser_does_not_touch_the_environment() -> None:
    before = dict(os.environ)
    with pytest.raises(CallError):
        PACK.parse("__import__('os').environ.clear()")
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'weather(location="Oslo"); weather(location="Bergen")',
            'weather(location="Oslo"); weather(location="Bergen")',
        ),
        ("volume(5); other(); ask('why; not')", 'volume(level=5); other(); ask(question="why; not")'),
        ("other()", "other()"),
    ],
)
def test_one_to_three_calls_separated_by_a_semicolon_and_space(text: str, expected: str) -> None:
    assert str(PACK.parse_calls(text)) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("other();other()", "separated by '; '"),
        ("other() ; other()", "separated by '; '"),
        ("other(); other(); other(); other()", "one to 3 calls"),
        ("other()\nother()", "on one line"),
        ("other(); x = 1", "expected a call"),
    ],
)
def test_anything_but_one_to_three_separated_calls_is_refused(text: str, words: str) -> None:
    with pytest.raises(CallSyntaxError, match=words):
        PACK.parse_calls(text)
    with pytest.raises(CallSyntaxError):
        parse_call("other(); other()")  # one call where one is asked for


def test_a_call_counts_as_finished_once_a_separator_or_its_parenthesis_outside_its_strings_closes_it() -> None:
    assert finished_calls('ask(question="a; b"); weath') == ['ask(question="a; b")']
    assert finished_calls('ask(question="say \\"hi; there\\""); other(); ') == [
        'ask(question="say \\"hi; there\\"")',
        "other()",
    ]
    assert finished_calls("other()") == ["other()"]
    assert finished_calls('timer(duration="5 minutes");') == ['timer(duration="5 minutes")']  # a token's end
    assert finished_calls('ask(question="a;') == []
    assert finished_calls('timer(duration="5 minutes"); notes(text="call (mom)') == ['timer(duration="5 minutes")']
    assert finished_calls('notes(text="call (mom))') == []  # the parenthesis is in the string
    assert finished_calls('timer(duration="5 minutes"') == []
