"""The remembered turn: what it keeps of the assistant's question, and how the prompt shows it."""

from __future__ import annotations

import time

from assistant.dialogue import MAX_QUESTION_CHARS, MAX_QUESTION_SCAN_CHARS, Memory, first_question, yes_or_no
from assistant.routing.calls import Call, Calls
from assistant.routing.prompting import render_user
from assistant.runtime.pack import load_pack
from assistant.runtime.resolution import question

PACK = load_pack()
TIMER = Calls([Call("timer", (("duration", "a while"),))])


def test_the_first_question_is_kept_without_what_explains_it() -> None:
    assert first_question("For how long? Say something like five minutes.") == "For how long?"
    assert first_question("Which program? I may not open 'blender'. Are you sure?") == "Which program?"
    assert first_question("The weather in Paris: sunny, 21 degrees.") == ""
    assert first_question("") == ""
    assert len(first_question("Which " + "very " * 40 + "long one?")) == MAX_QUESTION_CHARS


def test_the_question_of_calls_is_the_one_the_dispatcher_asks() -> None:
    assert question(PACK, TIMER) == "For how long?"
    assert question(PACK, Calls([Call("timer", (("duration", "five minutes"),))])) == ""


def test_memory_keeps_the_question_of_the_answer_and_the_prompt_shows_it() -> None:
    now = [0.0]
    memory = Memory(30, clock=lambda: now[0])
    memory.remember("set a timer for a while", TIMER, "For how long? Say something like five minutes.")
    remembered = memory.recent()
    assert remembered is not None and remembered.asked == "For how long?"
    assert render_user("twenty minutes", remembered) == (
        'Before: set a timer for a while -> timer(duration="a while")\nAsked: For how long?\nNow: twenty minutes'
    )
    memory.remember("set a timer for five minutes", Calls([Call("timer", (("duration", "five minutes"),))]), "Done.")
    assert "Asked" not in render_user("make it ten", memory.recent())  # no question, no line: the format before it
    now[0] = 31.0
    assert memory.recent() is None


def test_the_question_is_looked_for_in_a_bounded_prefix_of_a_long_answer() -> None:
    notes = "You have 20000 notes: " + "; ".join(f"note {n}" for n in range(20_000))
    start = time.monotonic()
    assert first_question(notes) == ""  # the question regex took minutes over an answer of 20,000 notes
    assert time.monotonic() - start < 10
    assert first_question("Which note? " + notes) == "Which note?"
    assert first_question("x" * MAX_QUESTION_SCAN_CHARS + " Which one?") == ""
    assert first_question("Done. Sure! And then: which one?\nNo.") == "And then: which one?"


def test_a_bare_yes_or_no_is_told_from_anything_else() -> None:
    said = ("Yes.", "go ahead!", "No, that\u2019s wrong", "never mind", "yes, five minutes", "no timer", "")
    assert [yes_or_no(text) for text in said] == [True, True, False, False, None, None, None]
