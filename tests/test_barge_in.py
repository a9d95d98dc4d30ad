"""Stop means stop: "stop" said while the assistant talks or rings silences it, its own voice never does.

The audio is real: espeak-ng speech (the assistant's voice, and another voice for the user),
heard by Silero VAD and the bundled Whisper tiny.en, frame by frame. Playback goes to an output
inside the test that takes as long to accept audio as a sound card takes to play it (this machine
has none), and once through PortAudio to an ALSA device that writes to a file.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Unpack

import numpy as np
import pytest

from assistant.runtime.context import RING_RATE, ring_sound, ring_tone
from assistant.voice.audio import FRAME, SAMPLE_RATE, read_wav, resample
from assistant.voice.barge_in import BargeIn
from assistant.voice.stt import Transcriber, load_transcriber
from assistant.voice.tts import Speaker, TTSError, synthesize_wav
from skills.timer import timer
from tests.audio_fixtures import PacedOutput, Voice, run_python, silence

ANSWERS = (
    "It is 14:05 in Tokyo.",
    "Timer set for ten minutes.",
    "In Berlin it is 12 degrees and cloudy today, and the rain stops by the evening.",
    "I can't do the second part of that.",
    "Your pasta timer stopped with four minutes left.",
    "Cancelled your timer.",
    "The pasta timer has only one minute left; say cancel the timer to stop it.",
    "It will be quiet and sunny in Paris tomorrow.",
)
LONG_ANSWER = (
    "Here is the news. The city council met on Tuesday to discuss the new bridge over the river, "
    "which has been planned for many years and will open to traffic next spring."
)
USER_VOICE: Voice = {"voice": "en-us", "wpm": 130}  # the assistant speaks with the default voice "en" at 150 wpm


class Heard:
    """The real transcriber, keeping what it heard: a test of "nothing triggers" must show something was heard."""

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self.texts: list[str] = []

    def transcribe(self, audio: np.ndarray) -> str:
        text = self.transcriber.transcribe(audio)
        self.texts.append(text)
        return text


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return load_transcriber()


@pytest.fixture
def outputs() -> list[PacedOutput]:
    return []


@pytest.fixture
def speaker(outputs: list[PacedOutput]) -> Speaker:
    def open_output(rate: int) -> PacedOutput:
        outputs.append(PacedOutput(rate))
        return outputs[-1]

    return Speaker(output=open_output)


def speech(text: str, folder: Path, **voice: Unpack[Voice]) -> np.ndarray:
    return read_wav(synthesize_wav(text, folder / "speech.wav", **voice))


def end_of_speech(audio: np.ndarray) -> int:
    """The sample after the last one above -60 dBFS."""
    return int(np.flatnonzero(np.abs(audio) > 1e-3)[-1]) + 1


def frames_until_stop(barge_in: BargeIn, audio: np.ndarray, saying: str = "") -> list[int]:
    """Feed ``audio`` frame by frame; the sample counts at which hears_stop said True."""
    return [
        (index + 1) * FRAME
        for index in range(audio.size // FRAME)
        if barge_in.hears_stop(audio[index * FRAME : (index + 1) * FRAME], saying)
    ]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_stop_silences_the_speaker_within_one_block_and_it_speaks_again_after(speaker, outputs, tmp_path):
    speaker.say(LONG_ANSWER)
    assert speaker.speaking
    wait_until(lambda: bool(outputs) and len(outputs[0].blocks) >= 10)
    speaker.stop()
    assert not speaker.speaking
    written = len(outputs[0].blocks)
    assert speaker.wait(timeout=1.0)
    assert outputs[0].ended == "aborted" and len(outputs[0].blocks) <= written + 1
    assert outputs[0].seconds() < 1.5, "of about ten seconds of speech"

    speaker.say(ANSWERS[1])
    assert speaker.wait(timeout=10.0) and not speaker.speaking
    assert outputs[1].ended == "played out"
    assert outputs[1].seconds() == pytest.approx(speech(ANSWERS[1], tmp_path).size / SAMPLE_RATE, abs=0.05)


def test_a_timer_rings_and_announces_through_the_speaker_and_stop_silences_both(skill_context, speaker, outputs):
    skill_context(ring=functools.partial(ring_tone, speaker), announce=speaker.say)
    timer("0.1 seconds")
    wait_until(lambda: bool(outputs) and len(outputs[0].blocks) >= 2)
    assert speaker.speaking
    speaker.stop()
    assert speaker.wait(timeout=1.0)
    assert len(outputs) == 1 and outputs[0].ended == "aborted", "the announcement after the ring is dropped too"
    assert outputs[0].seconds() < 0.4


_PLAY_TO_A_FILE = """
import json
from assistant.voice.tts import Speaker
speaker = Speaker()
speaker.say("Timer set for ten minutes.")
print(json.dumps({"speaking": speaker.speaking, "done": speaker.wait(timeout=10)}))
"""

_NO_OUTPUT = """
import json, time
from assistant.voice.tts import Speaker, TTSError
start = time.monotonic()
try:
    Speaker().say("hello")
    error = None
except TTSError as exc:
    error = str(exc)
print(json.dumps({"error": error, "seconds": time.monotonic() - start}))
"""


def test_the_speaker_plays_through_portaudio_to_the_end(tmp_path):
    """The real sound-device path: PortAudio plays into an ALSA device that writes float samples to a file."""
    played = tmp_path / "played.raw"
    asoundrc = tmp_path / "asoundrc"
    asoundrc.write_text(
        f'pcm.tofile {{\n  type file\n  slave.pcm "null"\n  file "{played}"\n  format "raw"\n}}\n'
        'pcm.!default {\n  type plug\n  slave { pcm "tofile" format FLOAT_LE }\n}\n'
    )
    result = run_python(_PLAY_TO_A_FILE, {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{asoundrc}"})
    assert result == {"speaking": True, "done": True}
    samples = np.fromfile(played, dtype="<f4")
    espeak_rate = 22050  # espeak-ng's own: the Speaker plays at the engine's rate
    said = speech("Timer set for ten minutes.", tmp_path)
    assert samples.size / espeak_rate == pytest.approx(said.size / SAMPLE_RATE, abs=0.05)
    assert np.sqrt(np.mean(np.square(samples))) > 0.05 and np.abs(samples).max() <= 1.0


def test_no_output_device_is_a_one_line_tts_error_at_once(tmp_path):
    asoundrc = tmp_path / "asoundrc"
    asoundrc.write_text("pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n")
    result = run_python(_NO_OUTPUT, {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{asoundrc}"})
    assert result["error"].startswith("cannot play audio (") and result["error"].endswith("no sound output device")
    assert "\n" not in result["error"] and result["seconds"] < 5


def test_a_missing_espeak_is_a_tts_error_before_anything_is_queued(tmp_path, monkeypatch, speaker):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TTSError, match="espeak-ng is not installed"):
        speaker.say("hello")
    assert not speaker.speaking


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_assistants_own_answers_never_stop_it(transcriber, tmp_path, answer):
    heard = Heard(transcriber)
    audio = np.concatenate([silence(0.3), speech(answer, tmp_path), silence(1.0)])
    assert frames_until_stop(BargeIn(heard, wake_word="computer"), audio, saying=answer) == [], heard.texts
    assert any(heard.texts), "the answer was heard, and dismissed"


def test_a_ring_never_stops_itself(transcriber):
    ring = resample(np.tile(ring_sound(), 4), RING_RATE)
    assert frames_until_stop(BargeIn(transcriber), np.concatenate([silence(0.3), ring, silence(1.0)])) == []


@pytest.mark.parametrize(("said", "stops"), [("cancel", False), ("stop", True)])
def test_a_word_the_assistant_is_saying_cannot_stop_it_but_the_others_can(transcriber, tmp_path, said, stops):
    audio = np.concatenate([silence(0.5), speech(said, tmp_path, **USER_VOICE), silence(1.0)])
    heard_at = frames_until_stop(BargeIn(transcriber), audio, saying="Cancelled your timer.")
    assert len(heard_at) == stops


@pytest.mark.parametrize(
    ("said", "wake_word"), [("stop", ""), ("shut up", ""), ("cancel", ""), ("computer", "computer")]
)
def test_stop_is_heard_within_half_a_second_of_the_word(transcriber, tmp_path, said, wake_word):
    word = speech(said, tmp_path, **USER_VOICE)
    audio = np.concatenate([silence(0.5), word, silence(1.5)])
    word_end = int(0.5 * SAMPLE_RATE) + end_of_speech(word)
    heard_at = frames_until_stop(BargeIn(transcriber, wake_word=wake_word), audio)
    assert len(heard_at) == 1, "once, then it starts afresh"
    assert word_end < heard_at[0] <= word_end + 0.5 * SAMPLE_RATE


def test_the_wake_word_starting_a_command_stops_it(transcriber, tmp_path):
    command = speech("computer, what time is it?", tmp_path, **USER_VOICE)
    audio = np.concatenate([silence(0.5), command, silence(1.5)])
    heard_at = frames_until_stop(BargeIn(transcriber, wake_word="computer"), audio)
    assert len(heard_at) == 1 and heard_at[0] <= int(0.5 * SAMPLE_RATE) + end_of_speech(command) + 0.5 * SAMPLE_RATE


def test_stop_after_an_answer_is_heard_and_the_answer_is_not(transcriber, tmp_path):
    answer = speech(ANSWERS[1], tmp_path)
    word = speech("stop", tmp_path, **USER_VOICE)
    audio = np.concatenate([silence(0.3), answer, silence(0.5), word, silence(1.0)])
    word_start = int(0.8 * SAMPLE_RATE) + answer.size
    heard_at = frames_until_stop(BargeIn(transcriber), audio)
    assert len(heard_at) == 1 and word_start < heard_at[0] <= word_start + end_of_speech(word) + 0.5 * SAMPLE_RATE
