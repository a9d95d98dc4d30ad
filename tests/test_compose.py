"""Compound, follow-up and context examples made from a pack's own examples (finetune.compose)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from assistant.dialogue import NO, YES, Exchange, first_question
from assistant.routing.calls import CONNECTIVES, UNFINISHED, Call, Calls
from assistant.runtime.example_files import Example, read_example_files, utterance_key
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.resolution import confirmation, question, unresolved
from assistant.runtime.skill import Skill, Span
from finetune.compose import KINDS, Composition, Sizes, compose, follows_on, previous_turns
from finetune.training_data import build_dataset

PACK = load_pack()
assert PACK.fallback is not None  # the shipped pack has other()
FALLBACK: Call = PACK.fallback
FILES = read_example_files(PACK.example_files(), PACK)
EXAMPLES = [example for example_file in FILES for example in example_file.all_examples]


def test_every_kind_is_made_within_its_cap_and_the_same_for_the_same_seed() -> None:
    sizes = Sizes(60, 50, 10, 30, 10, 20, 15, 12)
    made = compose(EXAMPLES, PACK, sizes, seed=3).made
    counts = Counter(item.kind for item in made)
    assert counts == {
        "compound": 60,
        "follow-up": 50,
        "repeat": 10,
        "unrelated": 30,
        "no context": 10,
        "unfinished": 20,
        "answer": 15,
        "confirm": 12,
    }
    assert made == compose(EXAMPLES, PACK, sizes, seed=3).made
    assert made != compose(EXAMPLES, PACK, sizes, seed=4).made
    assert len({item.key for item in made}) == len(made)


def test_compound_calls_are_in_the_order_said_and_copy_only_words_of_the_sentence() -> None:
    shared = talk = 0
    fallback_at: Counter[int] = Counter()
    for item in compose(EXAMPLES, PACK, Sizes(400, 0, 0, 0, 0, 0, 0, 0), seed=0).made:
        assert item.context is None
        if item.calls == Calls([FALLBACK]):  # two things said not for the assistant are still one fallback call
            talk += 1
            assert any(connective.format(a="", b="").strip(" ,") in item.user for connective in CONNECTIVES)
            continue
        assert 2 <= len(item.calls) <= 3
        assert PACK.parse_calls(str(item.calls), item.user) == item.calls  # spans are words of the whole sentence
        assert not all(call == FALLBACK for call in item.calls)
        assert len(set(item.calls)) == len(item.calls)  # the same request twice is not two requests
        fallback_at.update(at for at, call in enumerate(item.calls) if call == FALLBACK)
        first, second = item.calls[0], item.calls[-1]
        if first.name == second.name and any(
            str(v) in item.user.split(" and ")[-1] for k, v in second.args if first.kwargs.get(k) != v
        ):
            shared += 1  # "the weather in Oslo and in Rome": the second part is only its new value
    assert shared >= 10
    assert 5 <= talk <= 40
    assert fallback_at[0] >= 20 and fallback_at[1] >= 20  # a part the pack cannot do, first as often as later


def test_one_skill_may_take_three_listed_values_but_never_two_parts_of_one_value() -> None:
    listed = []
    for item in compose(EXAMPLES, PACK, Sizes(600, 0, 0, 0, 0, 0, 0, 0), seed=0).made:
        names = {call.name for call in item.calls}
        if len(item.calls) == 3 and len(names) == 1:
            listed.append(item)
        if names == {"timer"} and len(item.calls) > 1:  # "5 minutes and 30 seconds" is one duration, one timer
            durations = [call.kwargs["duration"] for call in item.calls]
            assert f"{durations[0]} and {durations[1]}" not in item.user, item
    assert any(", " in item.user and item.calls[0].name in ("weather", "timecheck", "run_app") for item in listed)
    # a second timer is "another", not a change of the first
    assert any(
        "another" in item.user and [call.name for call in item.calls] == ["timer", "timer"]
        for item in compose(EXAMPLES, PACK, Sizes(600, 0, 0, 0, 0, 0, 0, 0), seed=0).made
    )


def test_follow_ups_change_one_said_argument_of_the_previous_call() -> None:
    literal_changes = corrections = 0
    for item in compose(EXAMPLES, PACK, Sizes(0, 200, 20, 0, 0, 0, 0, 0), seed=0).made:
        assert item.context is not None and len(item.calls) == 1
        PACK.parse_calls(str(item.calls), item.context.said(item.user))  # values from either turn's words
        before, after = item.context.calls[0], item.calls[0]
        if item.kind == "repeat":
            assert item.calls == item.context.calls
            continue
        changed = {k: v for k, v in after.args if before.kwargs.get(k) != v}
        assert after.name != before.name or len(changed) == 1
        assert all(isinstance(value, str) and value in item.user for value in changed.values())
        literal_changes += any(p.choices and p.name in changed for p in PACK.skills[after.name].parameters)
        corrections += any(
            isinstance(v, str) and v not in item.context.user and str(before.kwargs.get(k)) in item.user
            for k, v in changed.items()
        )
    assert literal_changes  # "and tomorrow?" after the weather changes its day, a Literal
    assert corrections  # "not Lima, Bogotá": the old value said, the new one taken


def test_an_answer_to_the_assistants_question_completes_the_previous_call() -> None:
    made = compose(EXAMPLES, PACK, Sizes(0, 0, 0, 0, 0, 0, 200, 0), seed=0).made
    assert len(made) == 200
    missing, left = 0, 0
    for item in made:
        assert item.kind == "answer" and item.context is not None and len(item.calls) == 1
        asked_about, after = item.context.calls[0], item.calls[0]
        parameter = next(
            (
                p
                for p in PACK.skills[asked_about.name].parameters
                if p.resolver is not None
                and p.resolver.ask
                and item.context.asked
                == first_question(p.resolver.ask.format(value=asked_about.kwargs.get(p.name, "")))
            ),
            None,
        )
        assert parameter is not None, item.context  # the remembered question is the one its resolver asks
        if after.name != asked_about.name:  # a reply that leaves the question is routed as alone
            left += 1
            continue
        PACK.parse_calls(str(item.calls), item.context.said(item.user))
        changed = [k for k, v in after.args if asked_about.kwargs.get(k) != v]
        assert changed == [parameter.name] and str(after.kwargs[parameter.name]) in item.user  # the answer is the value
        if (
            parameter.name in asked_about.kwargs
        ):  # said, but not as anything the skill can act on ("a timer for a while")
            assert (
                unresolved(PACK, asked_about) is not None and question(PACK, item.context.calls) == item.context.asked
            )
        else:  # not said ("add a note")
            missing += 1
    assert 0 < missing < len(made)
    assert 0.1 * len(made) < left < 0.3 * len(made)


def test_yes_to_a_confirming_question_is_the_call_asked_about_and_no_is_nothing() -> None:
    made = compose(EXAMPLES, PACK, Sizes(0, 0, 0, 0, 0, 0, 0, 200), seed=0).made
    assert len(made) == 200
    kinds: Counter[str] = Counter()
    for item in made:
        assert item.kind == "confirm" and item.context is not None
        asked_about = item.context.calls
        assert item.context.asked == confirmation(PACK, asked_about) != ""  # asked as the runtime asks
        assert not PACK.skills[asked_about[0].name].reads_only
        if item.user in YES:
            assert item.calls == asked_about
            PACK.parse_calls(str(item.calls), item.context.said(item.user))  # copied from the turn before
            kinds["yes"] += 1
        elif item.user in NO:
            assert item.calls == Calls([FALLBACK])
            kinds["no"] += 1
        else:  # a reply that leaves the question is routed as alone
            assert item.calls != asked_about
            kinds["left"] += 1
    assert kinds["yes"] > kinds["no"] > kinds["left"] > 0


def test_unrelated_context_keeps_the_call_and_no_context_phrases_are_the_fallback() -> None:
    after_unrelated = []
    for item in compose(EXAMPLES, PACK, Sizes(0, 0, 0, 200, 50, 0, 0, 0), seed=0).made:
        if item.kind == "unrelated":
            assert item.context is not None and item.context.calls[0].name != item.calls[0].name
            after_unrelated.append(item.calls)
        else:
            assert item.context is None and item.calls == Calls([FALLBACK])
    # speech not for the assistant stays so after a command, and is about half of what follows one
    assert 0.35 < after_unrelated.count(Calls([FALLBACK])) / len(after_unrelated) < 0.65


def test_unfinished_requests_are_commands_cut_before_a_value_and_never_a_complete_example() -> None:
    complete = {utterance_key(example.user) for example in EXAMPLES}
    made = compose(EXAMPLES, PACK, Sizes(0, 0, 0, 0, 0, 50, 0, 0), seed=0).made
    assert len(made) == 50
    for item in made:
        assert item.calls is UNFINISHED and str(item.calls) == "..." and item.context is None
        assert utterance_key(item.user) not in complete
        assert any(utterance_key(example.user).startswith(utterance_key(item.user) + " ") for example in EXAMPLES)
    assert not any(utterance_key(item.user).endswith(" weather") for item in made)  # "what's the weather" is complete


def test_a_change_that_does_not_name_what_it_changes_comes_after_a_turn_of_it_and_alone_is_the_fallback() -> None:
    follow_on = [example for example in EXAMPLES if follows_on(example, PACK)]  # "make it ten instead", "no, fifteen"
    assert len(follow_on) >= 10
    assert all(
        example.calls[0].name == "timer_change" and "timer" not in example.user.casefold() for example in follow_on
    )
    assert any(example.calls[0].name == "timer_change" and not follows_on(example, PACK) for example in EXAMPLES)
    turns = previous_turns(EXAMPLES, PACK, seed=0)
    assert set(turns) == set(follow_on) and {turn.calls[0].name for turn in turns.values()} == {"timer"}
    said = {utterance_key(example.user) for example in follow_on}
    made = compose(EXAMPLES, PACK, Sizes(300, 0, 0, 300, 100, 0, 0, 0), seed=0).made
    alone = [item for item in made if utterance_key(item.user) in said]
    assert len(alone) >= 10  # taught as the fallback when no timer was just set, and never a part of a compound
    assert all(item.kind == "no context" and item.calls == Calls([FALLBACK]) for item in alone)
    records, _ = build_dataset(FILES, PACK, 0.1, 0.1, seed=0, sizes=Sizes(0, 0, 0, 0, 100, 0, 0, 0))
    written = [r for r in records if "kind" not in r and utterance_key(r["user"]) in said]
    assert {r["split"] for r in written} >= {"train", "test"}
    assert all(r["context"][0]["call"].startswith("timer(") for r in written)
    assert any(r.get("kind") == "no context" for r in records if utterance_key(r["user"]) in said)


def skill(function) -> Skill:
    return Skill.from_function(function)


def test_a_change_of_a_changeable_action_goes_to_the_skill_that_changes_it() -> None:
    def timer(duration: Annotated[str, Span()]) -> str:
        """Start a timer."""
        return ""

    def timer_change(duration: Annotated[str, Span()]) -> str:
        """Change a timer."""
        return ""

    pack = SkillPack.from_skills([skill(timer), Skill.from_function(timer_change, changes="timer")])
    examples = [
        Example(f"timer {n} minutes", Calls([Call("timer", (("duration", f"{n} minutes"),))]), "f", n)
        for n in range(1, 8)
    ]
    made = compose(examples, pack, Sizes(0, 20, 0, 0, 0, 0, 0, 0), seed=0).made
    assert made and all(item.calls[0].name == "timer_change" for item in made)
    assert all(
        item.context is not None
        and item.context == Exchange(f"timer {item.context.calls[0].kwargs['duration']}", item.context.calls)
        for item in made
    )


def test_a_pack_without_a_fallback_gets_no_fallback_examples() -> None:
    def weather(location: Annotated[str, Span()] | None = None) -> str:
        """Weather."""
        return ""

    pack = SkillPack.from_skills([skill(weather)])
    examples = [
        Example(f"weather in {city}", Calls([Call("weather", (("location", city),))]), "f", n)
        for n, city in enumerate(["Paris", "Rome", "Oslo", "Bern"])
    ]
    composition = compose(examples, pack, Sizes(10, 10, 5, 0, 10, 0, 0, 0), seed=0)
    assert {item.kind for item in composition.made} == {"compound", "follow-up", "repeat"}
    assert composition.skipped == ("no context",)  # asked for, and reported as what these examples cannot make


def test_the_data_set_composes_from_training_examples_only_and_counts_each_kind(monkeypatch) -> None:
    import finetune.training_data as training_data

    given: list[Example] = []

    def spy(examples: list[Example], pack: SkillPack, sizes: Sizes, seed: int) -> Composition:
        given.extend(examples)
        return compose(examples, pack, sizes, seed)

    monkeypatch.setattr(training_data, "compose", spy)
    records, report = build_dataset(FILES, PACK, 0.1, 0.1, seed=0, sizes=Sizes(300, 200, 20, 100, 20, 30, 20, 0))
    written = {
        split: {r["user"] for r in records if r["split"] == split and "kind" not in r}
        for split in ("train", "validation", "test")
    }
    assert given and not written["test"] & {example.user for example in given}  # the test split is never composed
    composed = [r for r in records if "kind" in r]
    assert report.composed == {kind: sum(r["kind"] == kind for r in composed) for kind in KINDS}
    assert {r["split"] for r in composed} == {"train", "validation"}
    assert {r["split"] for r in composed if r["kind"] == "unfinished"} == {
        "train"
    }  # held-out splits score complete requests
    for record in composed:  # a composed example is made from examples of its own split
        parts = [record["user"], *(turn["user"] for turn in record.get("context", []))]
        other = "validation" if record["split"] == "train" else "train"
        assert not any(
            text.rstrip(".?!") in part for part in parts for text in written[other] | written["test"] if len(text) > 40
        ), record
