"""What the registry derives from a function, loading packs, and the shared prompt renderer."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from assistant.routing.calls import Call
from assistant.routing.prompting import load_template, render_completion, render_prompt, system_text
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.skill import Skill, skill


@skill
def notes(action: Literal["add", "list"], note: str | None = None) -> str:
    """Add a note or read them back.

    Details after the first paragraph stay out of the prompt.
    """
    return action


@skill(name="math")
def calculate(question: str, precision: int = 2) -> str:
    """Calculate an arithmetic expression."""
    return question


def test_prompt_line_and_schema_come_from_the_signature() -> None:
    skill_ = Skill.from_function(notes)
    assert skill_.prompt_line() == 'notes(action="[add|list]", note="[note]") Add a note or read them back.'
    schema = skill_.json_schema()["function"]
    assert schema["name"] == "notes"
    assert schema["parameters"]["required"] == ["action"]
    assert schema["parameters"]["properties"]["action"] == {"type": "string", "enum": ["add", "list"]}
    assert schema["parameters"]["properties"]["note"] == {"type": ["string", "null"]}
    json.dumps(schema)


def test_decorator_keeps_the_function_and_names_it() -> None:
    assert notes("list") == "list"
    marked = calculate.__voxroute_skill__
    assert marked.name == "math"
    assert (
        marked.prompt_line() == 'math(question="[question]", precision=[precision]) Calculate an arithmetic expression.'
    )
    assert str(SkillPack.from_skills([marked]).parse("math('1+1', 2)")) == 'math(question="1+1")'


def _untyped(x):
    """Doc."""


def _list_typed(x: list) -> None:
    """Doc."""


def _union(x: int | str) -> None:
    """Doc."""


def _star(*a: str) -> None:
    """Doc."""


def _undocumented(x: str) -> None:
    pass


def _mixed_literal(x: Literal["a", 1]) -> None:
    """Doc."""


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (_untyped, "needs a type hint"),
        (_list_typed, "is not one of str, int, float, bool"),
        (_union, "unions other than X | None"),
        (_star, r"\*args/\*\*kwargs"),
        (_undocumented, "a docstring is required"),
        (_mixed_literal, "Literal choices"),
    ],
)
def test_unsupported_signatures_are_refused_when_defined(function, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        skill(function)


def test_load_pack_collects_marked_functions_from_a_module() -> None:
    pack = load_pack(__name__, examples=None)
    assert list(pack.skills) == ["math", "notes"]
    assert pack.parse('notes("add", "milk")') == Call("notes", (("action", "add"), ("note", "milk")))
    assert pack.example_files() == []
    with pytest.raises(ValueError, match="defines no @skill functions"):
        load_pack("json")


@pytest.mark.parametrize("name", ["chatml", "mistral", "llama2", "plain"])
def test_every_template_renders_prompt_and_completion(name: str) -> None:
    template = load_template(name)
    prompt = render_prompt(template, "  what time   is it ", ["other() not for you"])
    assert "what time is it" in prompt and "other() not for you" in prompt
    assert "{" not in prompt.replace("{user}", "")
    completion = render_completion(template, Call("other"))
    assert completion == template.lead + "other()" + template.suffix and not completion.endswith((" ", "\n"))
    assert not prompt.endswith(" ") and template.lead == ("" if name == "chatml" else " ")


def test_prompt_prefix_before_the_utterance_is_fixed() -> None:
    template = load_template("chatml")
    first, second = render_prompt(template, "alpha"), render_prompt(template, "beta")
    fixed = first.split("alpha")[0]
    assert second.startswith(fixed) and template.suffix == "<|im_end|>"
    assert system_text() in fixed
    assert render_prompt(template, "{user} {call}").count("{user} {call}") == 1


def test_bad_templates_are_refused(tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("{user} {system} {call}")
    with pytest.raises(ValueError, match="in that order"):
        load_template(bad)
    with pytest.raises(ValueError, match="no prompt template 'nope'"):
        load_template("nope")


def test_a_confirming_question_says_the_call_and_leaves_out_the_parts_of_arguments_not_given() -> None:
    def countdown(minutes: int, label: str | None = None) -> str:
        """Start a countdown."""
        return ""

    asks = Skill.from_function(countdown, confirm="A timer for {minutes} minutes[ called {label}]?")
    assert asks.confirmation(Call("countdown", (("minutes", 5),))) == "A timer for 5 minutes?"
    named = Call("countdown", (("minutes", 5), ("label", "pasta")))
    assert asks.confirmation(named) == "A timer for 5 minutes called pasta?"
    assert Skill.from_function(countdown).confirmation(named) == ""  # a skill without confirm never asks
    with pytest.raises(TypeError, match="confirm names no parameter 'seconds'"):
        Skill.from_function(countdown, confirm="A timer for {seconds}?")
