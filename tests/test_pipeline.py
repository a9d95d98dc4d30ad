"""The voice pipeline end to end: espeak-ng speech → Whisper (both backends) → shipped router → skill,
and every fault path of a turn: silence, noise, corrupt audio, no wake word, a skill that raises or hangs."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Annotated, Literal, TypedDict

import numpy as np
import pytest

from assistant.config import Config, NotesConfig, RouterConfig, VoiceConfig
from assistant.dialogue import after_wake_word
from assistant.pipeline import CONFIRMATION, DECLINED, Assistant
from assistant.routing.calls import Call
from assistant.routing.router import load_local_router
from assistant.runtime.dispatch import Dispatcher
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.skill import Resolver, Skill
from assistant.voice.audio import write_wav
from assistant.voice.stt import load_transcriber
from tests.audio_fixtures import silence, speak_to_array, white_noise


@pytest.mark.parametrize(
    ("transcript", "wake", "command"),
    [
        ("Computer, what time is it?", "computer", "what time is it?"),
        ("hey voxroute open firefox", "hey voxroute", "open firefox"),
        ("Hey, Voxroute! timer five minutes", "hey voxroute", "timer five minutes"),
        ("what time is it", "computer", None),
        ("computers are great", "computer", None),
        ("what time is it", "", "what time is it"),
    ],
)
def test_wake_word(transcript: str, wake: str, command: str | None) -> None:
    assert after_wake_word(transcript, wake) == command


def broken(reason: str) -> str:
    """Always raises."""
    raise RuntimeError(f"disk on fire: {reason}")


def slow(seconds: float) -> str:
    """Takes its time."""
    time.sleep(seconds)
    return "finally"


def greet(name: str) -> str:
    """Says hello."""
    return f"hello {name}"


TOY = SkillPack.from_skills(Skill.from_function(f) for f in (broken, slow, greet))


def test_dispatch_isolates_a_skill_that_raises() -> None:
    outcome = Dispatcher(TOY).run(TOY.parse('broken(reason="test")'))
    assert outcome.error == "RuntimeError" and outcome.failed
    assert outcome.answer == "Sorry, the broken skill failed: disk on fire: test"


def test_dispatch_stops_waiting_for_a_skill_that_hangs() -> None:
    start = time.perf_counter()
    outcome = Dispatcher(TOY, timeout_s=0.2).run(TOY.parse("slow(seconds=3.0)"))
    assert time.perf_counter() - start < 1.5
    assert outcome.error == "timeout" and "took longer than 0.2 seconds" in outcome.answer and outcome.failed
    greeted = Dispatcher(TOY).run(TOY.parse('greet(name="Ada")'))
    assert greeted.answer == "hello Ada" and not greeted.failed


def test_a_clarifying_question_is_not_a_failure() -> None:
    def play(song: Annotated[str, Resolver(lambda said: None, "Which song is '{value}'?")]) -> str:
        """Plays a song."""
        return "playing"

    pack = SkillPack.from_skills([Skill.from_function(play)])
    asked = Dispatcher(pack).run(pack.parse('play(song="xyzzy")'))
    assert asked.answer == "Which song is 'xyzzy'?" and asked.error and not asked.failed


def failing_lookup(said: str) -> str:
    raise RecursionError("maximum recursion depth exceeded")


def test_a_resolver_that_raises_fails_its_call_only() -> None:
    def play(song: Annotated[str, Resolver(failing_lookup, "Which song is '{value}'?")]) -> str:
        """Plays a song."""
        return "playing"

    pack = SkillPack.from_skills([Skill.from_function(play)])
    outcome = Dispatcher(pack).run(pack.parse('play(song="xyzzy")'))
    assert outcome.failed and "maximum recursion depth" in outcome.answer


def hold(digits: int) -> str:
    """Holds the interpreter in one C call (it builds 10**digits) for as long as it is let."""
    return str(round(5, -digits))


def test_dispatch_kills_an_isolated_skill_that_holds_the_interpreter() -> None:
    import multiprocessing

    pack = SkillPack.from_skills([Skill.from_function(hold, isolated=True), Skill.from_function(broken, isolated=True)])
    start = time.perf_counter()
    outcome = Dispatcher(pack, timeout_s=0.5).run(pack.parse("hold(digits=1000000000)"))
    assert time.perf_counter() - start < 1.5
    assert outcome.error == "timeout" and outcome.answer.endswith("so I stopped it.")
    assert multiprocessing.active_children() == []
    failed = Dispatcher(pack).run(pack.parse('broken(reason="test")'))
    assert (failed.error, failed.answer) == ("RuntimeError", "Sorry, the broken skill failed: disk on fire: test")


def test_dispatch_runs_the_skill_in_the_callers_context(skill_context) -> None:
    from assistant.runtime.context import current_context

    class Seen(TypedDict, total=False):
        config: Config
        thread: str

    seen: Seen = {}

    def where() -> str:
        """Reports the context it sees."""
        seen["config"] = current_context().config
        seen["thread"] = threading.current_thread().name
        return "ok"

    context = skill_context()
    pack = SkillPack.from_skills([Skill.from_function(where)])
    assert Dispatcher(pack).run(Call("where")).answer == "ok"
    assert seen["config"] is context.config and seen["thread"].startswith("skill")


def test_a_recording_file_over_max_utterance_s_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    config = Config(voice=VoiceConfig(max_utterance_s=2.0), router=RouterConfig(max_utterance_chars=20))
    assistant = Assistant(TOY, config, lambda: load_local_router(TOY), lambda: load_transcriber())
    write_wav(tmp_path / "three.wav", silence(3.0))  # under the default 15 s: the turn's own limit applies
    turn = assistant.handle_file(tmp_path / "three.wav")
    assert turn.failed and turn.calls == []
    said = "the recording is 3.0 s long; the most is 2 s ([voice] max_utterance_s)"
    assert turn.error == f"{tmp_path / 'three.wav'}: {said}"
    typed = assistant.handle_text("greet the whole wide world")
    assert typed.error == "too long to route: 26 characters, the most is 20 ([router] max_utterance_chars)"
    cut = assistant.refuse("greet the whole wide w")  # the start of a line too long to read whole
    assert cut.error == "too long to route: more than 20 characters, the most is 20 ([router] max_utterance_chars)"
    assert cut.failed and cut.transcript == "greet the whole wide w" and typed.calls == cut.calls == []
    assert assistant._transcriber is None and assistant._router is None


Backend = Literal["faster-whisper", "openai-whisper"]  # [voice] stt


@pytest.fixture(scope="module")
def pack() -> SkillPack:
    return load_pack()


@pytest.fixture(scope="module")
def router(pack: SkillPack):
    return load_local_router(pack)


def assistant_for(
    pack: SkillPack,
    router,
    backend: Backend,
    tmp_path: Path,
    wake_word: str = "",
    follow_up_s: float = 0.0,
    confirm_below: float = 0.0,
) -> Assistant:
    config = Config(
        notes=NotesConfig(path=str(tmp_path / "notes.sqlite3")),
        voice=VoiceConfig(stt=backend, wake_word=wake_word),
        router=RouterConfig(skill_timeout_s=30, follow_up_s=follow_up_s, confirm_below=confirm_below),
    )
    return Assistant(pack, config, lambda: router, lambda: load_transcriber(backend))


COMMANDS = [
    ("What time is it in Tokyo?", Call("timecheck", (("location", "Tokyo"),))),
    ("Take a note, buy milk and eggs.", Call("notes", (("action", "add"), ("note", "buy milk and eggs")))),
]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["faster-whisper", "openai-whisper"])
def test_spoken_commands_end_to_end(pack, router, backend: Backend, tmp_path: Path, skill_context) -> None:
    assistant = assistant_for(pack, router, backend, tmp_path)
    skill_context(assistant.config)
    for index, (sentence, call) in enumerate(COMMANDS):
        assistant.memory.forget()  # separate commands; follow-ups are tested on their own
        turn = assistant.handle_audio(speak_to_array(sentence, tmp_path, f"command{index}"))
        assert turn.calls == [str(call)], turn
        assert turn.error is None and turn.answer
        assert set(turn.timings) == {"stt_ms", "route_ms", "skill_ms", "total_ms"}
    assistant.memory.forget()
    listed = assistant.handle_text("read my notes")
    assert listed.calls == ['notes(action="list")'] and "buy milk" in listed.answer


@pytest.mark.slow
def test_faults_end_the_turn_not_the_loop(pack, router, tmp_path: Path, skill_context) -> None:
    assistant = assistant_for(pack, router, "faster-whisper", tmp_path, wake_word="computer")
    skill_context(assistant.config)
    quiet = assistant.handle_audio(silence(2.0))
    assert quiet.error == "heard nothing (silence or noise)" and not quiet.failed
    noisy = assistant.handle_audio(white_noise(2.0))
    assert noisy.calls in ([], ["other()"]) and noisy.answer == ""
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    unreadable = assistant.handle_file(corrupt)
    assert unreadable.error is not None and str(corrupt) in unreadable.error and unreadable.failed
    missing = assistant.handle_file(tmp_path / "missing.wav")
    assert missing.error is not None and "missing.wav" in missing.error and missing.failed
    ignored = assistant.handle_text("what time is it in Tokyo")
    assert ignored.error is not None and "no wake word 'computer'" in ignored.error
    assert ignored.calls == ["other()"] and ignored.answer == ""
    assert not ignored.failed and not assistant.not_for_me(ignored)
    heard = assistant.handle_text("Computer, what time is it in Tokyo?")
    assert heard.calls == ['timecheck(location="Tokyo")'] and "Tokyo" in heard.answer and not heard.failed
    chatter = assistant.handle_text("Computer, that movie last night was so boring.")
    assert assistant.not_for_me(chatter) and not chatter.failed


@pytest.mark.slow
def test_oversized_input_is_refused_before_any_model_runs(pack, router, tmp_path: Path, skill_context) -> None:
    assistant = assistant_for(pack, router, "faster-whisper", tmp_path)
    skill_context(assistant.config)
    start = time.perf_counter()
    typed = assistant.handle_text("open firefox " * 4000)
    assert typed.calls == ["other()"] and typed.answer == ""
    assert typed.error == "too long to route: 52000 characters, the most is 500 ([router] max_utterance_chars)"
    assert typed.failed
    symbols = assistant.handle_text("𝔘𝔫𝔦𝔠𝔬𝔡𝔢" * 60)  # 360 characters, several tokens each
    assert symbols.error is not None and symbols.error.startswith("too long to route: ")
    assert symbols.calls == ["other()"] and symbols.failed
    assert symbols.error.endswith(" tokens, the most is 384") and symbols.timings["route_ms"] < 1000
    long_recording = silence(16.0)
    heard = assistant.handle_audio(long_recording)
    assert heard.error == "the recording is 16.0 s long; the most is 15 s ([voice] max_utterance_s)" and heard.failed
    assert time.perf_counter() - start < 2.0 and assistant._transcriber is None
    assert assistant.handle_text("open firefox").calls == ['run_app(program="firefox")']


@pytest.mark.slow
def test_a_pack_without_other_runs_the_pipeline(tmp_path: Path, skill_context) -> None:
    """SNIPS has no other(): speech that fits nothing gets no call, and nothing raises."""
    snips = load_pack("benchmarks.snips.skills")
    assert snips.fallback is None and load_pack().fallback == Call("other")
    config = Config(router=RouterConfig(skill_timeout_s=30))
    assistant = Assistant(
        snips, config, lambda: load_local_router(snips, None), lambda: load_transcriber("faster-whisper")
    )
    skill_context(config)
    turn = assistant.handle_text("play bohemian rhapsody by queen on spotify")
    assert turn.calls[0].split("(")[0] in snips.skills and turn.answer.startswith(turn.calls[0].split("(")[0])
    refused = assistant.handle_text("x" * 501)
    assert refused.calls == [] and refused.error is not None and refused.error.startswith("too long to route")
    outside = Dispatcher(snips).run(Call("other"))
    assert outside.error == "no skill 'other' in this pack" and outside.failed


@pytest.mark.slow
def test_several_commands_in_one_breath_each_run_and_answer_in_order(
    pack, router, tmp_path: Path, skill_context
) -> None:
    assistant = assistant_for(pack, router, "faster-whisper", tmp_path)
    context = skill_context(assistant.config)
    turn = assistant.handle_text("set a timer for ten minutes and add a note to buy milk")
    assert turn.calls == ['timer(duration="ten minutes")', 'notes(action="add", note="buy milk")'], turn
    assert turn.answer.startswith("Timer set for 10 minutes.") and "buy milk" in turn.answer and not turn.failed
    assert len(context.timers.timers()) == 1


@pytest.mark.slow
def test_calls_routed_while_listening_run_as_soon_as_each_is_decoded(
    pack, router, tmp_path: Path, skill_context, monkeypatch
) -> None:
    """The listening loop hands a turn on at its first decoded call; that call runs while the next is decoded
    (a token at a time: a checked guess may close both calls in one pass)."""
    monkeypatch.setattr(router, "drafter", None)
    assistant = assistant_for(pack, router, "faster-whisper", tmp_path)
    skill_context(assistant.config)
    stages: list[tuple[float, str]] = []
    assistant.on_stage = lambda stage: stages.append((time.perf_counter(), stage))
    said = "what time is it in Tokyo and what's the weather in Berlin"
    first: queue.Queue = queue.Queue()
    routed_at: list[float] = []

    def route_ahead() -> None:
        assistant.route_ahead(said, first.put)
        routed_at.append(time.perf_counter())

    routing = threading.Thread(target=route_ahead)
    routing.start()
    turn = assistant.handle_text(said, first.get(timeout=60))
    routing.join()
    assert turn.calls == ['timecheck(location="Tokyo")', 'weather(location="Berlin")'], turn
    assert turn.answer and not turn.failed and turn.timings["route_ms"] == 0  # routed once, while "listening"
    assert next(at for at, stage in stages if stage == "running timecheck") < routed_at[0]


@pytest.mark.slow
def test_a_follow_up_builds_on_the_last_turn_and_changes_a_timer_instead_of_starting_another(
    pack, router, tmp_path: Path, skill_context
) -> None:
    assistant = assistant_for(pack, router, "faster-whisper", tmp_path, wake_word="computer", follow_up_s=30)
    context = skill_context(assistant.config)
    first = assistant.handle_text("computer set a timer for five minutes")
    assert first.calls == ['timer(duration="five minutes")'], first
    changed = assistant.handle_text("make it ten")  # a follow-up needs no wake word
    assert changed.calls == ['timer_change(duration="ten")'], changed
    (only,) = context.timers.timers()
    assert 590 < context.timers.left(only) <= 600
    assistant.memory.forget()
    alone = assistant.handle_text("make it ten")  # no recent turn, no wake word: not for the assistant
    assert alone.calls == ["other()"] and alone.error is not None and alone.error.startswith("no wake word")


@pytest.mark.slow
def test_the_assistants_question_is_remembered_and_the_answer_completes_the_call(
    pack, router, tmp_path: Path, skill_context
) -> None:
    assistant = assistant_for(pack, router, "faster-whisper", tmp_path, wake_word="computer", follow_up_s=30)
    context = skill_context(assistant.config)
    asked = assistant.handle_text("computer set a timer for a while")
    assert asked.calls == ['timer(duration="a while")'] and asked.answer.startswith("For how long?"), asked
    recent = assistant.memory.recent()
    assert recent is not None and recent.asked == "For how long?" and not context.timers.timers()
    answered = assistant.handle_text("twenty minutes")
    assert answered.calls == ['timer(duration="twenty minutes")'], answered
    recent = assistant.memory.recent()
    assert recent is not None and recent.asked == "" and len(context.timers.timers()) == 1


class Paused:
    """A turn that ended at a pause: whether the speaker then went on."""

    def __init__(self, went: bool):
        self.went = went

    def went_on(self) -> bool:
        return self.went


@pytest.mark.slow
def test_an_unsure_call_that_acts_is_asked_about_first_yes_runs_it_and_no_runs_nothing(
    pack, router, tmp_path: Path, skill_context
) -> None:
    assistant = assistant_for(pack, router, "faster-whisper", tmp_path, follow_up_s=30, confirm_below=1.0)
    timers = skill_context(assistant.config).timers
    heard = np.zeros(1600, dtype=np.float32)
    went_on = assistant.handle_heard(heard, "set a timer for ten minutes", None, Paused(True))
    assert went_on.superseded and went_on.answer == "" and str(went_on.error).startswith("not asked: you went on")
    assert assistant.memory.recent() is None
    asked = assistant.handle_heard(
        heard, "set a timer for ten minutes", assistant.route_ahead("set a timer for ten minutes"), Paused(False)
    )
    assert asked.calls == ['timer(duration="ten minutes")'] and asked.answer == "A timer for ten minutes?"
    assert (
        asked.confirming and 0 < (asked.confidence or 0) < 1 and asked.timings["route_ms"] == 0 and not timers.timers()
    )
    assert not assistant.handle_heard(heard, "yes", None, Paused(True)).answer  # said at a pause, then went on
    done = assistant.handle_text("Yes.")
    assert done.path == CONFIRMATION and done.calls == asked.calls and done.answer == "Timer set for 10 minutes."
    recent = assistant.memory.recent()
    assert len(timers.timers()) == 1 and recent is not None and recent.user == "set a timer for ten minutes"
    assert assistant.handle_text("set a timer for five minutes").confirming
    declined = assistant.handle_text("no thanks")
    assert (declined.answer, declined.calls) == (DECLINED, []) and assistant.memory.recent() is None
    read = assistant.handle_text("what time is it")  # a skill that only reads is never asked about
    assert read.calls == ["timecheck()"] and read.answer and not read.confirming and (read.confidence or 1) < 1
    assert len(timers.timers()) == 1
