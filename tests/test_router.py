"""The call grammar and constrained decoding: every output of the router is a valid call."""

from __future__ import annotations

from typing import Literal

import llguidance
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from assistant.calls import Call
from assistant.decoding import CallMatcher
from assistant.grammar import call_grammar
from assistant.models import embedded_llm_dir
from assistant.pack import SkillPack, load_pack
from assistant.router import load_local_router
from assistant.skill import Skill


def volume(level: int, relative: bool = False, gain: float | None = None, mode: Literal["soft", "loud"] = "soft") -> str:
    """Set the volume."""
    return ""


def weather(location: str | None = None, day: str | None = None) -> str:
    """Ask for the weather."""
    return ""


def other() -> str:
    """Not for the assistant."""
    return ""


PACK = SkillPack.from_skills(Skill.from_function(f) for f in (volume, weather, other))


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(embedded_llm_dir())


@pytest.fixture(scope="module")
def calls(tokenizer) -> CallMatcher:
    return CallMatcher(tokenizer, call_grammar(PACK))


def accepts(calls: CallMatcher, text: str) -> bool:
    matcher = calls.fresh()
    ids = calls.tokenizer(text, add_special_tokens=False).input_ids + [calls.eos_id]
    return matcher.validate_tokens(ids) == len(ids)


@pytest.mark.parametrize(
    "text",
    ["other()", "weather()", 'weather(location="Berlin")', 'weather(day="friday")',
     'weather(location="São Paulo", day="weekend")', "volume(level=3)", "volume(level=-2, gain=0.5)",
     'volume(level=1, relative=True, mode="loud")', 'weather(location="say \\"hi\\", then \\\\ leave")'],
)
def test_grammar_accepts_canonical_calls(calls: CallMatcher, text: str) -> None:
    assert accepts(calls, text)
    assert str(PACK.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    ['weather(day="friday", location="Berlin")', "weather(location='Berlin')", 'weather(location="")',
     "volume()", 'volume(level="3")', 'volume(level=3, mode="medium")', "volume(level=3, relative=1)",
     'forecast(location="x")', "other() other()", 'weather(location = "Berlin")', "weather(location=None)"],
)
def test_grammar_rejects_everything_else(calls: CallMatcher, text: str) -> None:
    assert not accepts(calls, text)


@settings(max_examples=60, deadline=None)
@given(
    level=st.integers(-1000, 1000),
    relative=st.booleans(),
    gain=st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False).map(lambda x: round(x, 3))),
    mode=st.sampled_from(["soft", "loud"]),
    location=st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)),
)
def test_every_valid_call_is_in_the_grammar(calls: CallMatcher, level, relative, gain, mode, location) -> None:
    raw = PACK.parse(f"volume({level}, {relative}, {gain!r}, {mode!r})")
    assert accepts(calls, str(raw))
    if location is not None:
        text = str(Call("weather", (("location", location),)))
        ids = calls.tokenizer(text, add_special_tokens=False).input_ids
        assume(calls.tokenizer.decode(ids) == text)  # the tokenizer itself drops a few unassigned code points
        assert accepts(calls, text)


def test_matcher_mask_allows_only_what_the_grammar_allows(calls: CallMatcher, tokenizer) -> None:
    matcher = calls.fresh()
    allowed = CallMatcher.allowed(matcher, len(tokenizer))
    words = {tokenizer.decode([i]) for i in allowed.nonzero()[0]}
    assert words and all(("volume(".startswith(w) or "weather(".startswith(w) or "other(".startswith(w)
                          or w.startswith(("volume(", "weather(", "other("))) for w in words)
    assert isinstance(matcher, llguidance.LLMatcher)


UTTERANCES = ["what's the weather in Berlin tomorrow", "set the volume to five", 'she said "hi" and left',
              "what is twelve times seven?", "[music playing]", "open the pod bay doors, HAL"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_untuned_base_model_still_always_yields_valid_calls(engine: str) -> None:
    router = load_local_router(PACK, adapter=None, engine=engine, max_new_tokens=40)
    for utterance in UTTERANCES:
        routed = router.route(utterance)
        assert routed.call.name in PACK.skills
        assert PACK.parse(str(routed.call)) == routed.call
        if routed.error is None:
            assert PACK.parse(routed.text) == routed.call
        else:
            assert routed.call == Call("other") and "within 40 tokens" in routed.error


@pytest.mark.slow
def test_default_pack_grammar_compiles_and_routes_with_the_shipped_router() -> None:
    pack = load_pack()
    router = load_local_router(pack)
    routed = router.route("what's the weather in Paris tomorrow")
    assert routed.error is None and routed.call == Call("weather", (("location", "Paris"), ("day", "tomorrow")))
    assert router.route("honey did you feed the cat").call == Call("other")
