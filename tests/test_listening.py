"""The listening loop (assistant.voice.listening) on real speech played in real time.

espeak-ng speech goes through the capture queue at the rate a microphone delivers it, Silero
marks the frames, tiny.en recognises, the shipped router routes and real skills run. What is
checked does not depend on a lucky judgement: a request is never lost or acted on in part, the
assistant never takes its own voice for a turn, "stop" silences it, and listening ahead turns
itself off when the machine cannot keep up.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Config, VoiceConfig
from assistant.pipeline import Assistant, Turn
from assistant.routing.router import load_local_router
from assistant.runtime.pack import SkillPack, load_pack
from assistant.voice.audio import SAMPLE_RATE, read_wav, trim_silence
from assistant.voice.capture import Frames, play_into
from assistant.voice.listening import Heard, listen
from assistant.voice.stt import load_transcriber
from assistant.voice.tts import Speaker, synthesize_wav
from tests.audio_fixtures import PacedOutput, Voice, silence

USER: Voice = {"voice": "en-us", "wpm": 140}


@pytest.fixture(scope="module")
def pack() -> SkillPack:
    return load_pack()


@pytest.fixture(scope="module")
def assistant(pack: SkillPack) -> Assistant:
    made = Assistant(pack, Config(), lambda: load_local_router(pack), lambda: load_transcriber())
    made.load()
    return made


def said(text: str, folder: Path, name: str = "speech") -> np.ndarray:
    return read_wav(synthesize_wav(text, folder / f"{name}.wav", **USER))


def played(
    assistant: Assistant, audio: np.ndarray, voice: VoiceConfig = VoiceConfig(), speaker: Speaker | None = None
) -> tuple[list[Turn], list[Heard]]:
    """The turns of ``audio`` played in real time (then 1.5 s of quiet), and how each ended."""
    assistant.memory.forget()
    frames = Frames()
    ends: list[Heard] = []
    play_into(frames, np.concatenate([silence(0.3), audio]), tail_s=1.5)
    return list(listen(frames, assistant, voice, on_heard=ends.append, speaker=speaker)), ends


def test_a_complete_request_ends_at_the_short_pause_recognised_and_routed_while_listening(
    assistant, tmp_path, skill_context
) -> None:
    skill_context()
    voice = VoiceConfig(silence_s=1.2)  # a window no pass takes as long as, even on a busy machine
    turns, ends = played(assistant, said("What time is it in Tokyo?", tmp_path), voice)
    assert [turn.calls for turn in turns] == [['timecheck(location="Tokyo")']]
    assert turns[0].answer and not turns[0].failed
    assert len(ends) == 1 and ends[0].early and ends[0].transcript and ends[0].ahead is not None
    assert turns[0].timings["route_ms"] == 0  # the call routed while listening was reused


def test_speech_after_a_pause_is_heard_with_what_came_before_and_nothing_acts_on_the_first_part(
    assistant, tmp_path, skill_context
) -> None:
    context = skill_context()
    first = trim_silence(said("Set a timer for ten minutes", tmp_path, "first"), pad_s=0.0)
    rest = trim_silence(said("called pizza", tmp_path, "rest"), pad_s=0.0)
    turns, _ends = played(assistant, np.concatenate([first, silence(0.4), rest]))  # a pause inside the 0.7 s window
    whole = [turn for turn in turns if not turn.superseded]
    assert len(whole) == 1 and len(whole[0].calls) == 1 and 'name="pizza"' in whole[0].calls[0]
    assert [timer.name for timer in context.timers.timers()] == ["pizza"]  # the first part alone never started
    assert all(turn.error and "went on" in turn.error for turn in turns if turn.superseded)


def test_a_pass_the_speaker_talks_over_is_not_routed(assistant, tmp_path, skill_context, caplog) -> None:
    """Passes run beside listening: speech that resumes before a pass has recognised cancels its routing."""
    skill_context()
    first = trim_silence(said("What time is it", tmp_path, "first"), pad_s=0.0)
    rest = trim_silence(said("in Tokyo", tmp_path, "rest"), pad_s=0.0)
    with caplog.at_level(logging.INFO, logger="assistant.voice.listening"):
        turns, _ends = played(assistant, np.concatenate([first, silence(0.15), rest]))  # shorter than recognising
    assert "then you went on: not routed" in caplog.text
    assert [turn.calls for turn in turns if not turn.superseded] == [['timecheck(location="Tokyo")']]


def test_listening_ahead_turns_itself_off_when_passes_take_longer_than_the_silence_window(
    assistant, tmp_path, skill_context, caplog
) -> None:
    skill_context()
    voice = VoiceConfig(silence_s=0.1, early_s=0.1, turn_end="silence")  # no pass can beat a 0.1 s window
    command = said("What time is it in Tokyo?", tmp_path)
    with caplog.at_level(logging.INFO, logger="assistant.voice.listening"):
        turns, ends = played(assistant, np.concatenate([command, silence(1.0), command, silence(1.0), command]), voice)
    assert "listening ahead is off" in caplog.text
    assert ends[-1].transcript is None  # recognised after the window, as before
    assert [turn.calls for turn in turns] == [['timecheck(location="Tokyo")']] * 3


def test_stop_silences_the_assistant_and_its_own_voice_is_never_a_turn(assistant, tmp_path, skill_context) -> None:
    skill_context()
    sinks: list[PacedOutput] = []

    def open_output(rate: int) -> PacedOutput:
        sinks.append(PacedOutput(rate))
        return sinks[-1]

    speaker = Speaker(output=open_output)
    answer = "It is sunny in Berlin today, with a high of twenty one degrees and a light wind from the west."
    echo = read_wav(synthesize_wav(answer, tmp_path / "echo.wav"))  # its own voice, as the microphone hears it
    speaker.say(answer)
    turns, _ = played(assistant, echo, speaker=speaker)
    assert turns == [] and sinks[0].ended == "played out"

    speaker.say(answer)
    turns, _ = played(assistant, np.concatenate([silence(0.5), said("stop", tmp_path)]), speaker=speaker)
    assert turns == [] and sinks[1].ended == "aborted" and not speaker.speaking


def test_the_end_of_turn_sound_is_short_and_quiet() -> None:
    from assistant.voice.listening import end_of_turn_sound

    sound = end_of_turn_sound()
    assert 0 < sound.size / SAMPLE_RATE <= 0.1 and 0 < np.abs(sound).max() <= 0.25


def test_a_command_during_the_assistants_answer_is_not_lost_when_speech_ends_first(
    assistant, tmp_path, skill_context
) -> None:
    """Capture never pauses: a command said right after the answer ends is a turn of its own."""
    skill_context()
    sinks: list[PacedOutput] = []

    def open_output(rate: int) -> PacedOutput:
        sinks.append(PacedOutput(rate))
        return sinks[-1]

    speaker = Speaker(output=open_output)
    speaker.say("Done.")
    turns, _ = played(
        assistant, np.concatenate([silence(1.2), said("What time is it in Tokyo?", tmp_path)]), speaker=speaker
    )
    assert [turn.calls for turn in turns] == [['timecheck(location="Tokyo")']]
