"""Stop means stop: the Speaker talks and rings in the background and is silenced within one block.

The audio is real espeak-ng speech. Playback goes to an output inside the test that takes as long
to accept audio as a sound card takes to play it (this machine has none), and once through
PortAudio to an ALSA device that writes to a file.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant.context import ring_tone
from assistant.voice.audio import SAMPLE_RATE, read_wav
from assistant.voice.tts import Speaker, TTSError, synthesize_wav
from audio_fixtures import run_python
from skills.timer import timer

ANSWER = "Timer set for ten minutes."
LONG_ANSWER = (
    "Here is the news. The city council met on Tuesday to discuss the new bridge over the river, "
    "which has been planned for many years and will open to traffic next spring."
)


class PacedOutput:
    """An output device inside the test: keeps every block, and takes as long to accept it as it lasts."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.blocks: list[np.ndarray] = []
        self.ended = ""

    def write(self, block: np.ndarray) -> None:
        time.sleep(block.size / self.rate)
        self.blocks.append(block.copy())

    def stop(self) -> None:
        self.ended = "played out"

    def abort(self) -> None:
        self.ended = "aborted"

    def close(self) -> None:
        pass

    def seconds(self) -> float:
        return sum(block.size for block in self.blocks) / self.rate


@pytest.fixture
def outputs() -> list[PacedOutput]:
    return []


@pytest.fixture
def speaker(outputs: list[PacedOutput]) -> Speaker:
    def open_output(rate: int) -> PacedOutput:
        outputs.append(PacedOutput(rate))
        return outputs[-1]

    return Speaker(output=open_output)


def speech(text: str, folder: Path, **voice: object) -> np.ndarray:
    return read_wav(synthesize_wav(text, folder / "speech.wav", **voice))


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

    speaker.say(ANSWER)
    assert speaker.wait(timeout=10.0) and not speaker.speaking
    assert outputs[1].ended == "played out"
    assert outputs[1].seconds() == pytest.approx(speech(ANSWER, tmp_path).size / SAMPLE_RATE, abs=0.05)


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
    assert 0.05 < np.sqrt(np.mean(np.square(samples))) and np.abs(samples).max() <= 1.0


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
