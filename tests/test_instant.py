"""The instant path: a pack's own sentences answered at once, ahead of the router, with real hassil and real
example files (the default pack's, and a small new pack's written to tmp_path)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from assistant import Config, build_assistant, load_pack
from assistant.config import RouterConfig
from assistant.dialogue import Exchange
from assistant.routing.calls import Call, Calls
from assistant.routing.instant import INSTANT, InstantMatcher, InstantRouter, spoken
from assistant.routing.router import SHIPPED_ADAPTER, OnCall, Routed, RouterSpec
from assistant.runtime.pack import REPO_ROOT, SkillPack
from assistant.runtime.skill import SKILL_ATTRIBUTE, Span, skill
from finetune.records import read_records
from tests.test_cli import voxroute

SETS = REPO_ROOT / "benchmarks" / "router"
PATIENT_S = 60.0  # a generous search time, so that a busy test machine never turns a match into "no match"


@skill
def brew(size: Literal["small", "large"], drink: Annotated[str, Span()]) -> str:
    """Make a drink."""
    return f"One {size} {drink} coming up."


@skill
def water(plant: Annotated[str, Span()]) -> str:
    """Water a plant."""
    return f"Watered the {plant}."


@skill
def other() -> str:
    """Speech not addressed to the assistant."""
    return ""


BREW = """#### Prompt:
{prompt}

#### Examples:

### User: could I have a small cappuccino please
### Assistant: brew(size="small", drink="cappuccino")

#### Templates:

{{size}} = small | large | big => large | twelve ounce => small | sixteen ounce => large
{{drink}} = latte | cappuccino | flat white | the house blend => house blend

### User: (make me | can I get) a {{size}} cup of {{drink}} [please]
### Assistant: brew(size="{{size}}", drink="{{drink}}")

### User: top up the {{drink}}
### Assistant: brew(size="large", drink="{{drink}}")
"""

WATER = """#### Prompt:
{prompt}

#### Examples:

### User: please water the fern
### Assistant: water(plant="fern")

#### Templates:

{{plant}} = fern | cactus | basil | the big palm => big palm

### User: top up the {{plant}}
### Assistant: water(plant="{{plant}}")
"""


@pytest.fixture
def new_pack(tmp_path: Path) -> SkillPack:
    """Skills the shipped router never saw, with their example files in tmp_path."""
    pack = SkillPack.from_skills([getattr(fn, SKILL_ATTRIBUTE) for fn in (brew, water, other)], examples_dir=tmp_path)
    (tmp_path / "brew_examples.txt").write_text(BREW.format(prompt=pack.skills["brew"].prompt_line()))
    (tmp_path / "water_examples.txt").write_text(WATER.format(prompt=pack.skills["water"].prompt_line()))
    (tmp_path / "other_examples.txt").write_text(
        f"#### Prompt:\n{pack.skills['other'].prompt_line()}\n\n#### Examples:\n\n"
        "### User: nice weather today isn't it\n### Assistant: other()\n"
    )
    return pack


@pytest.fixture(scope="module")
def default_matcher() -> InstantMatcher:
    return InstantMatcher.for_pack(load_pack(), max_match_s=PATIENT_S)


def calls(pack: SkillPack, text: str) -> Calls:
    return pack.parse_calls(text)


def test_digits_are_said_in_words_with_a_map_back_to_what_was_written() -> None:
    text, starts, ends = spoken("set a timer for 10 minutes, the 3rd at 1.5x and 1,000 more")
    assert text == "set a timer for ten minutes, the third at one point five x and one thousand more"
    ten = text.index("ten minutes")
    assert (starts[ten], ends[ten + len("ten") - 1]) == (16, 18)  # "ten" is the "10" of the original


def test_a_template_sentence_gives_its_call_and_a_span_list_is_open(new_pack: SkillPack) -> None:
    matcher = InstantMatcher.for_pack(new_pack, max_match_s=PATIENT_S)
    assert matcher.match("make me a large cup of latte") == calls(new_pack, 'brew(size="large", drink="latte")')
    assert matcher.match("Can I get a big cup of Flat White, please?") == calls(
        new_pack, 'brew(size="large", drink="Flat White")'
    )  # said => value for the Literal; the Span's words in their case; case and punctuation aside
    assert matcher.match("make me a small cup of the house blend") == calls(
        new_pack, 'brew(size="small", drink="house blend")'
    )  # the list's own mapping
    assert matcher.match("can I get a large cup of oat milk mocha") == calls(
        new_pack, 'brew(size="large", drink="oat milk mocha")'
    )  # words the list never had: the Span's list is a set of examples
    assert matcher.match("make me a small cup of the hazelnut roast") == calls(
        new_pack, 'brew(size="small", drink="hazelnut roast")'
    )  # a first word the list's lines drop ("the house blend => house blend") is dropped
    assert matcher.match("make me a huge cup of latte") is None  # the Literal's list is closed
    assert matcher.match("make me a large cup of latte and water the fern") is None  # two commands: the router's
    assert matcher.match("make me a large cup of cup please") is None  # the template's own words are no drink
    assert matcher.match("could I have a small cappuccino please") == calls(
        new_pack, 'brew(size="small", drink="cappuccino")'
    )  # a written example
    assert matcher.match("nice weather today, isn't it?") == calls(new_pack, "other()")


def test_numbers_match_in_digits_or_words_on_either_side(new_pack: SkillPack, default_matcher: InstantMatcher) -> None:
    matcher = InstantMatcher.for_pack(new_pack, max_match_s=PATIENT_S)
    assert matcher.match("can I get a 12 ounce cup of latte") == calls(new_pack, 'brew(size="small", drink="latte")')
    pack = default_matcher.pack
    assert default_matcher.match("set a timer for 10 minutes") == calls(pack, 'timer(duration="10 minutes")')
    assert default_matcher.match("set a timer for ten minutes") == calls(pack, 'timer(duration="ten minutes")')
    assert default_matcher.match("set a timer for 17 minutes") == calls(pack, 'timer(duration="17 minutes")')


def test_an_open_slot_beside_a_closed_one_takes_only_its_own_words(default_matcher: InstantMatcher) -> None:
    """weather_examples.txt: "(weather | forecast ...) [for | in] {place} [{day}]", a Span list then a Literal's."""
    pack = default_matcher.pack
    assert default_matcher.match("weather in Ulaanbaatar") == calls(pack, 'weather(location="Ulaanbaatar")')
    assert default_matcher.match("weather in Ulaanbaatar tomorrow") == calls(
        pack, 'weather(location="Ulaanbaatar", day="tomorrow")'
    )
    assert default_matcher.match("weather in Ulaanbaatar please") is None  # no template says "please" there


def test_two_readings_with_different_calls_are_left_to_the_router(new_pack: SkillPack) -> None:
    matcher = InstantMatcher.for_pack(new_pack, max_match_s=PATIENT_S)
    readings = {match.calls for match in matcher.matches("top up the basil")}
    assert readings == {calls(new_pack, 'water(plant="basil")'), calls(new_pack, 'brew(size="large", drink="basil")')}
    assert matcher.match("top up the basil") is None


def test_a_written_example_copies_its_string_values_from_the_words_heard(default_matcher: InstantMatcher) -> None:
    """ask_examples.txt writes "how do I change a flat tire?" with the question mark in its call; a transcript
    without one (the recogniser's closing punctuation is taken off) is asked as said, as the router copies it."""
    pack = default_matcher.pack
    assert default_matcher.match("How do I change a flat tire") == calls(
        pack, 'ask(question="How do I change a flat tire")'
    )
    assert default_matcher.match("how do I change a flat tire?") == calls(
        pack, 'ask(question="how do I change a flat tire?")'
    )


def test_a_sentence_that_changes_another_skill_without_naming_it_is_not_answered_alone(
    default_matcher: InstantMatcher,
) -> None:
    pack = default_matcher.pack
    assert default_matcher.match("make it 5 minutes") is None  # timer_change's example: only after a timer
    assert default_matcher.match("change the timer to 5 minutes") == calls(pack, 'timer_change(duration="5 minutes")')


class Recording:
    """A Router that records what it is asked and answers one call: the router behind the instant path."""

    def __init__(self, answer: Calls):
        self.answer = answer
        self.asked: list[tuple[str, Exchange | None, bool]] = []

    def route(
        self,
        utterance: str,
        context: Exchange | None = None,
        on_call: OnCall = lambda call: None,
        allow_unfinished: bool = False,
    ) -> Routed:
        self.asked.append((utterance, context, allow_unfinished))
        for call in self.answer:
            on_call(call)
        return Routed(self.answer, str(self.answer), 1.0)

    def prepare(self, context: Exchange) -> None:
        """Nothing to encode."""


def test_the_router_gets_follow_ups_partial_transcripts_and_the_rest(new_pack: SkillPack) -> None:
    trained = Recording(Calls([Call("other")]))
    router = InstantRouter(trained, InstantMatcher.for_pack(new_pack, max_match_s=PATIENT_S))
    heard: list[Call] = []
    routed = router.route("make me a large cup of latte", on_call=heard.append)
    assert (routed.path, routed.calls, heard, trained.asked) == (
        INSTANT,
        calls(new_pack, 'brew(size="large", drink="latte")'),
        list(calls(new_pack, 'brew(size="large", drink="latte")')),
        [],
    )
    before = Exchange("please water the fern", calls(new_pack, 'water(plant="fern")'))
    assert router.route("make me a large cup of latte", before).path == "router"  # a follow-up is the router's
    assert router.route("make me a large cup of latte", allow_unfinished=True).path == "router"  # may go on
    assert router.route("what a lovely day").path == "router"
    assert trained.asked == [
        ("make me a large cup of latte", before, False),
        ("make me a large cup of latte", None, True),
        ("what a lovely day", None, False),
    ]


def endpoint(http_server: Any) -> Any:
    """A real OpenAI-compatible server on 127.0.0.1 that answers other() to every request."""

    def answer(request: Any) -> tuple[int, str, bytes]:
        call = {"id": "call_1", "type": "function", "function": {"name": "other", "arguments": "{}"}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        choice = {"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": message}
        body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
        return 200, "application/json", json.dumps(body).encode()

    return http_server({"/v1/chat/completions": answer})


def test_a_new_skill_answers_its_template_sentence_at_once_and_the_switch_turns_it_off(
    new_pack: SkillPack, http_server: Any, skill_context: Any
) -> None:
    skill_context()
    server = endpoint(http_server)
    settings = RouterConfig(backend="openai", base_url=f"{server.url}/v1", model="m", timeout_s=5.0, max_retries=0)
    turn = build_assistant(Config(router=settings), new_pack).handle_text("can I get a large cup of oat milk mocha")
    assert (turn.path, turn.calls, turn.answer, turn.failed) == (
        INSTANT,
        ['brew(size="large", drink="oat milk mocha")'],
        "One large oat milk mocha coming up.",
        False,
    )
    assert server.requests == []  # the trained router was never asked
    assert turn.as_dict()["path"] == INSTANT
    off = Config(router=dataclasses.replace(settings, instant=False))
    routed = build_assistant(off, new_pack).handle_text("can I get a large cup of oat milk mocha")
    assert (routed.path, routed.calls, len(server.requests)) == ("router", ["other()"], 1)


def test_example_files_the_matcher_cannot_read_leave_the_router_alone(
    new_pack: SkillPack, http_server: Any, skill_context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    skill_context()
    assert new_pack.examples_dir is not None
    (new_pack.examples_dir / "water_examples.txt").write_text("#### Prompt:\nwater() wrong line\n")
    server = endpoint(http_server)
    settings = RouterConfig(backend="openai", base_url=f"{server.url}/v1", model="m", timeout_s=5.0, max_retries=0)
    turn = build_assistant(Config(router=settings), new_pack).handle_text("make me a large cup of latte")
    assert (turn.path, turn.calls, len(server.requests)) == ("router", ["other()"], 1)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and warned[0].startswith("no instant path ([router] instant): ")
    assert "water_examples.txt:2: " in warned[0]


def benchmark_records() -> Iterator[tuple[str, Any]]:
    pack = load_pack()
    for name in ("fresh_utterances", "compound", "timers"):
        for record in read_records(SETS / f"{name}.jsonl", pack):
            yield name, record


def test_the_dialogue_benchmark_sets_are_unchanged_by_it(default_matcher: InstantMatcher) -> None:
    """Every utterance of the independent sets that the matcher answers, it answers with the set's own calls,
    exactly; it answers many of them (117 of the 551 fresh utterances, 7 of 389 compound, 151 of 240 timer
    commands, when this was written)."""
    matched: dict[str, int] = {}
    wrong = []
    for name, record in benchmark_records():
        assert record.context is None
        found = default_matcher.match(record.user)
        if found is not None:
            matched[name] = matched.get(name, 0) + 1
            if found != record.calls:
                wrong.append(f"{name}: {record.user!r} -> {found}, expected {record.calls}")
    assert wrong == []
    assert matched.get("fresh_utterances", 0) >= 80 and matched.get("timers", 0) >= 100, matched


@pytest.mark.slow
def test_the_shipped_router_never_saw_the_new_skill_yet_its_sentence_is_answered(
    new_pack: SkillPack, skill_context: Any
) -> None:
    skill_context()
    assistant = build_assistant(Config(), new_pack)
    turn = assistant.handle_text("make me a small cup of the hazelnut roast")
    assert (turn.path, turn.calls, turn.answer) == (
        INSTANT,
        ['brew(size="small", drink="hazelnut roast")'],
        "One small hazelnut roast coming up.",
    )
    trained_on = RouterSpec.for_adapter(SHIPPED_ADAPTER).signatures
    assert trained_on is not None and "brew" not in trained_on
    assert assistant.handle_text("I think we should paint the kitchen yellow").path == "router"


@pytest.mark.slow
def test_say_json_and_v_show_which_path_answered(tmp_path: Path) -> None:
    said = voxroute(tmp_path, "say", "--json", "-v", "that movie last night was so boring", "what time is it in Tokyo")
    assert said.returncode == 0, said.stderr
    overheard, tokyo = (json.loads(line) for line in said.stdout.splitlines())
    assert (overheard["path"], overheard["calls"]) == ("router", ["other()"])
    assert (tokyo["path"], tokyo["calls"]) == (INSTANT, ['timecheck(location="Tokyo")'])
    assert 'path instant: timecheck(location="Tokyo")' in said.stderr and "path router: other()" in said.stderr
