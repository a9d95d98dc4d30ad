"""The call grammar and constrained decoding: every output of the router is a valid call."""

from __future__ import annotations

from typing import Annotated, Literal

import llguidance
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from assistant.dialogue import Exchange
from assistant.models import embedded_llm_dir
from assistant.routing.calls import UNFINISHED, Call, Calls, NotSaid
from assistant.routing.decoding import (
    MAX_KEPT_PREFIXES,
    CallMatcher,
    CTranslate2Engine,
    Decoded,
    Engine,
    Guess,
    Progress,
    TorchEngine,
)
from assistant.routing.prompting import load_template, render_prompt
from assistant.routing.router import load_local_router
from assistant.routing.spans import is_span
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.skill import Skill, Span


def volume(
    level: int, relative: bool = False, gain: float | None = None, mode: Literal["soft", "loud"] = "soft"
) -> str:
    """Set the volume."""
    return ""


def weather(location: str | None = None, day: str | None = None) -> str:
    """Ask for the weather."""
    return ""


def other() -> str:
    """Not for the assistant."""
    return ""


def find(place: Annotated[str, Span()], near: Annotated[str, Span()] | None = None, count: int = 1) -> str:
    """Find a place."""
    return ""


PACK = SkillPack.from_skills(Skill.from_function(f) for f in (volume, weather, other))
SPAN_PACK = SkillPack.from_skills(Skill.from_function(f) for f in (find, weather, other))


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(embedded_llm_dir())


@pytest.fixture(scope="module")
def calls(tokenizer) -> CallMatcher:
    return CallMatcher(tokenizer, PACK)


@pytest.fixture(scope="module")
def span_calls(tokenizer) -> CallMatcher:
    return CallMatcher(tokenizer, SPAN_PACK)


SAID = "hey, find the Café de Flore near St. Louis, please!"


@pytest.mark.parametrize(
    "text, accepted",
    [
        ('find(place="Café de Flore")', True),
        ('find(place="the Café de Flore", near="St. Louis")', True),
        ('find(place="St", count=2)', True),
        ('find(place="please!")', True),
        ('find(place="hey, find the")', True),
        ('find(place="Cafe de Flore")', False),
        ('find(place="Caf")', False),
        ('find(place=" the")', False),
        ('find(place="Flore near")', True),
        ('find(place="Paris")', False),
        ('find(place="de  Flore")', False),
        ('weather(location="anything at all")', True),  # a plain str stays free
        ('find(place="!")', False),
        ('find(place=",")', False),  # punctuation alone is no value
    ],
)
def test_span_values_may_only_copy_words_of_the_utterance(span_calls: CallMatcher, text: str, accepted: bool) -> None:
    matcher = span_calls.fresh(SAID)
    ids = [*span_calls.tokenizer(text, add_special_tokens=False).input_ids, span_calls.eos_id]
    assert (matcher.validate_tokens(ids) == len(ids)) is accepted
    call = SPAN_PACK.parse(text)
    if accepted:
        assert SPAN_PACK.parse(text, SAID) == call
    else:
        with pytest.raises(NotSaid, match="is not words of what was said"):
            SPAN_PACK.parse(text, SAID)


def test_without_an_utterance_span_values_are_free_text(span_calls: CallMatcher) -> None:
    ids = [*span_calls.tokenizer('find(place="Paris")', add_special_tokens=False).input_ids, span_calls.eos_id]
    assert span_calls.fresh().validate_tokens(ids) == len(ids)


@pytest.mark.parametrize(
    "said, word, unquotable", [('she said "hi" to me', "hi", '"hi"'), ("a back\\slash here", "slash", "back\\slash")]
)
def test_quotes_and_backslashes_never_enter_a_span(
    span_calls: CallMatcher, said: str, word: str, unquotable: str
) -> None:
    assert is_span(word, said) and not is_span(unquotable, said)
    ids = span_calls.tokenizer(f'find(place="{word}")', add_special_tokens=False).input_ids
    assert span_calls.fresh(said).validate_tokens(ids) == len(ids)


def accepts(calls: CallMatcher, text: str) -> bool:
    matcher = calls.fresh()
    ids = [*calls.tokenizer(text, add_special_tokens=False).input_ids, calls.eos_id]
    return matcher.validate_tokens(ids) == len(ids)


@pytest.mark.parametrize(
    "text",
    [
        "other()",
        "weather()",
        'weather(location="Berlin")',
        'weather(day="friday")',
        'weather(location="São Paulo", day="weekend")',
        "volume(level=3)",
        "volume(level=-2, gain=0.5)",
        'volume(level=1, relative=True, mode="loud")',
        'weather(location="say \\"hi\\", then \\\\ leave")',
    ],
)
def test_grammar_accepts_canonical_calls(calls: CallMatcher, text: str) -> None:
    assert accepts(calls, text)
    assert str(PACK.parse(text)) == text


@pytest.mark.parametrize("said", [None, SAID])
def test_the_unfinished_mark_is_allowed_only_when_asked_and_parses_to_no_call(
    calls: CallMatcher, span_calls: CallMatcher, said: str | None
) -> None:
    for matcher in (calls, span_calls):
        ids = [*matcher.tokenizer("...", add_special_tokens=False).input_ids, matcher.eos_id]
        assert matcher.fresh(said, unfinished=True).validate_tokens(ids) == len(ids)
        assert matcher.fresh(said).validate_tokens(ids) < len(ids)
        for text in ("other()", "...other()", "other(); ..."):
            ids = [*matcher.tokenizer(text, add_special_tokens=False).input_ids, matcher.eos_id]
            assert (matcher.fresh(said, unfinished=True).validate_tokens(ids) == len(ids)) is (text == "other()")
    assert PACK.parse_calls("...") is UNFINISHED and UNFINISHED.unfinished and not UNFINISHED
    assert Calls() != UNFINISHED and str(UNFINISHED) == "..."


@pytest.mark.parametrize(
    "text",
    [
        'weather(day="friday", location="Berlin")',
        "weather(location='Berlin')",
        'weather(location="")',
        "volume()",
        'volume(level="3")',
        'volume(level=3, mode="medium")',
        "volume(level=3, relative=1)",
        'forecast(location="x")',
        "other() other()",
        'weather(location = "Berlin")',
        "weather(location=None)",
    ],
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
    assert words and all(
        (
            "volume(".startswith(w)
            or "weather(".startswith(w)
            or "other(".startswith(w)
            or w.startswith(("volume(", "weather(", "other("))
        )
        for w in words
    )
    assert isinstance(matcher, llguidance.LLMatcher)


UTTERANCES = [
    "what's the weather in Berlin tomorrow",
    "set the volume to five",
    'she said "hi" and left',
    "what is twelve times seven?",
    "[music playing]",
    "open the pod bay doors, HAL",
]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_untuned_base_model_still_always_yields_valid_calls(engine: str) -> None:
    # the token budget is under test, not the time limit, which a loaded machine may reach first
    router = load_local_router(PACK, adapter=None, engine=engine, max_new_tokens=40, deadline_s=600)
    for utterance in UTTERANCES:
        routed = router.route(utterance)
        assert all(call.name in PACK.skills for call in routed.calls)
        assert PACK.parse_calls(str(routed.calls)) == routed.calls
        if routed.error is None:
            assert PACK.parse_calls(routed.text) == routed.calls
        else:
            budget = 40 + len(router.tokenizer(utterance, add_special_tokens=False).input_ids)
            assert routed.calls == (Call("other"),) and routed.error.startswith("no complete call within")
            assert budget - 8 <= int(routed.error.split()[-2]) <= budget + 8  # 40 + room to copy the utterance


@pytest.mark.slow
def test_default_pack_grammar_compiles_and_routes_with_the_shipped_router() -> None:
    pack = load_pack()
    router = load_local_router(pack)
    routed = router.route("what's the weather in Paris tomorrow")
    assert routed.error is None and routed.calls == (Call("weather", (("location", "Paris"), ("day", "tomorrow"))),)
    assert router.route("honey did you feed the cat").calls == (Call("other"),)


class CountingEngine:
    """The router's own engine, noting each prompt and how many tokens were decoded each time progress is told."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.steps: list[int] = [0]
        self.prompts: list[tuple[list[int], int]] = []

    def prepare(self, prefix_ids: list[int]) -> None:
        self.engine.prepare(prefix_ids)

    def decode(
        self,
        prompt_ids: list[int],
        fixed_len: int,
        matcher: llguidance.LLMatcher,
        max_new_tokens: int,
        deadline: float = float("inf"),
        progress: Progress = lambda generated: None,
        guess: Guess = lambda generated: [],
    ) -> Decoded:
        self.prompts.append((prompt_ids, fixed_len))

        def counted(generated: list[int]) -> None:
            self.steps.append(len(generated))
            progress(generated)

        return self.engine.decode(prompt_ids, fixed_len, matcher, max_new_tokens, deadline, counted, guess)


@pytest.mark.slow
def test_each_call_is_handed_on_once_closed_before_the_router_decodes_what_follows() -> None:
    pack = load_pack()
    router = load_local_router(pack, drafts=False)  # a token at a time (tests/test_drafts.py: with guesses)
    router.engine = counting = CountingEngine(router.engine)
    handed: list[tuple[str, int]] = []
    routed = router.route(
        "set a timer for ten minutes and tell me the weather in Berlin",
        on_call=lambda call: handed.append((str(call), counting.steps[-1])),
    )
    assert (
        [call for call, _ in handed]
        == [str(call) for call in routed.calls]
        == ['timer(duration="ten minutes")', 'weather(location="Berlin")']
    )
    assert handed[0][1] < handed[1][1] < routed.tokens  # the last one before its end token was decoded
    assert routed.tokens - handed[1][1] == 1


WORDS = [
    "find",
    "the",
    "bakery",
    "near",
    "Berlin",
    "please",
    "um",
    "café",
    "St.",
    "Louis",
    "42",
    "weather",
    "in",
    "Tokyo",
    "what's",
    "a",
    "place",
    "to",
    "eat",
    ",",
    "?",
]


@pytest.fixture(scope="module")
def untuned_span_routers() -> dict:
    return {
        engine: load_local_router(SPAN_PACK, adapter=None, engine=engine, max_new_tokens=24)
        for engine in ("ctranslate2", "transformers")
    }


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
@settings(max_examples=6, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=10))
def test_decoded_span_values_are_always_words_of_the_utterance(
    untuned_span_routers: dict, engine: str, words: list[str]
) -> None:
    said = " ".join(words)
    routed = untuned_span_routers[engine].route(said)
    assert routed.calls
    for call in routed.calls:
        spans = {param.name for param in SPAN_PACK.skills[call.name].parameters if param.span}
        for name, value in call.args:
            if name in spans:
                assert is_span(value, said), (value, said)


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_a_template_with_a_lead_space_decodes_it_and_parses_the_call(engine: str) -> None:
    """``[/INST] {call}``: the space is the call's first token's, so the grammar starts with it."""
    router = load_local_router(PACK, None, template="mistral", engine=engine)
    assert not router.prompt("hello").endswith(" ")
    routed = router.route("what's the weather in Paris")
    assert routed.error is None and routed.text.startswith(" ") and routed.calls[0].name in PACK.skills
    assert str(routed.calls) == routed.text[1:]


def test_the_tokenizer_template_comes_from_the_served_models_tokenizer() -> None:
    """SmolLM2's own chat template is ChatML: the router renders the same prompt as with the ``chatml`` file."""
    router = load_local_router(PACK, None, template="tokenizer", engine="transformers")
    assert router.template.name == "tokenizer"
    assert router.prompt("hello") == render_prompt(load_template("chatml"), "hello")


def test_training_and_the_router_render_a_follow_up_the_same_way() -> None:
    """One renderer for the previous turn: a follow-up record trains on exactly the prompt the router builds."""
    from finetune.config import RouterArguments
    from finetune.finetune import to_examples
    from finetune.records import Record

    router = load_local_router(PACK, None, engine="transformers")
    before = Exchange("what's the weather in Paris", Calls([Call("weather", (("location", "Paris"),))]))
    record = Record(
        "and tomorrow?", Calls([Call("weather", (("location", "Paris"), ("day", "tomorrow")))]), "train", before
    )
    (example,) = to_examples([record], PACK, RouterArguments(), router.template)
    assert example["prompt"] == router.prompt("and tomorrow?", before)
    assert "what's the weather in Paris" in example["prompt"] and 'weather(location="Paris")' in example["prompt"]


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_a_prepared_follow_up_encodes_only_its_own_words_and_decodes_the_same(engine: str) -> None:
    router = load_local_router(PACK, None, engine=engine, max_new_tokens=24)
    paris = Exchange("what's the weather in Paris", Calls([Call("weather", (("location", "Paris"),))]))
    cold = router.route("and tomorrow?", paris)
    router.prepare(paris)
    router.engine = counting = CountingEngine(router.engine)
    warm = router.route("and tomorrow?", paris)
    ((prompt_ids, fixed_len),) = counting.prompts
    assert router.tokenizer.decode(prompt_ids[fixed_len:]).startswith(" and tomorrow?")  # the turn was encoded before
    assert (warm.text, warm.calls) == (cold.text, cold.calls)
    router.engine = counting.engine
    for n in range(MAX_KEPT_PREFIXES + 2):  # each turn's head is kept, a bounded number of them
        router.prepare(Exchange(f"the weather in Rome {n}", Calls([Call("weather", (("location", "Rome"),))])))
    assert isinstance(router.engine, TorchEngine | CTranslate2Engine)  # the engines load_local_router makes
    assert len(router.engine._kept) <= MAX_KEPT_PREFIXES
    assert router.route("and tomorrow?", paris).text == cold.text


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_routing_stops_at_its_deadline_with_the_fallback_and_says_why(engine: str) -> None:
    router = load_local_router(PACK, None, engine=engine, max_new_tokens=400, deadline_s=0.001)
    routed = router.route("please note that " + "the red fox jumps over the lazy dog " * 8)
    assert routed.calls == (Call("other"),) or routed.calls[0].name in PACK.skills  # what was decoded, or the fallback
    assert routed.error == "routing took longer than 0.001 s ([router] timeout_s)"
    assert routed.latency_ms < 3000


def test_the_grammar_allows_one_to_three_calls_and_no_more(tokenizer) -> None:
    calls = CallMatcher(tokenizer, PACK)
    for text in ("other()", 'weather(location="Oslo"); other(); volume(level=2)'):
        ids = tokenizer(text, add_special_tokens=False).input_ids
        matcher = calls.fresh()
        assert matcher.validate_tokens(ids) == len(ids), text
        matcher.consume_tokens(ids)
        assert matcher.is_accepting(), text
    for text in ("other(); other(); other(); other()", "other();other()"):
        ids = tokenizer(text, add_special_tokens=False).input_ids
        assert calls.fresh().validate_tokens(ids) < len(ids), text


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_confidence_is_the_least_sure_choice_and_a_forced_token_is_no_choice(engine: str) -> None:
    pack = load_pack()
    router = load_local_router(pack, engine=engine)
    clean, unsure = router.route("set a timer for ten minutes"), router.route("set")  # one word, no request yet
    assert 0.9 < clean.confidence <= 1.0 and 0.0 < unsure.confidence < clean.confidence - 0.3
    # with the fallback the only skill its name is forced: the model, which would never pick it here, has no say
    alone = load_local_router(SkillPack.from_skills([pack.skills["other"]]), engine=engine)
    forced = alone.route("set a timer for ten minutes")
    assert forced.calls == (Call("other"),) and forced.confidence > 0.9
