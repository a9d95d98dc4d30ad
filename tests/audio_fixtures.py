"""Helpers shared by the audio, speech-to-text and TTS tests: real speech, WER, ALSA capture, an output device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TypedDict

import numpy as np

from assistant.voice.audio import SAMPLE_RATE, read_wav, write_wav
from assistant.voice.tts import synthesize_wav

REPO = Path(__file__).resolve().parent.parent

# Sentences that espeak-ng at 130 wpm says clearly enough for tiny.en (checked with both backends).
SENTENCES = (
    "What time is it in New York?",
    "Set a timer for two hours.",
    "Give me the news about sports.",
    "Tell me a story about a cat who lives on the moon.",
)


class Voice(TypedDict, total=False):
    """Keyword arguments of synthesize_wav that choose how the speech sounds."""

    engine: str
    voice: str
    wpm: int


def speak_to_array(text: str, folder: Path, name: str = "speech") -> np.ndarray:
    """espeak-ng speech of ``text`` as float32 16 kHz, through a real WAV file in ``folder``."""
    return read_wav(synthesize_wav(text, folder / f"{name}.wav", wpm=130))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def white_noise(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, level, int(seconds * SAMPLE_RATE)).astype(np.float32)


def run_with_capture_file(audio: np.ndarray, folder: Path, script: str, timeout: float = 120) -> dict:
    """Run ``script`` in a fresh Python whose ALSA default capture device plays ``audio``.

    ALSA's ``file`` plugin over the ``null`` device reads raw 16 kHz S16_LE from a file; the
    configuration must be in the environment before sounddevice (PortAudio) loads, hence the
    subprocess. The script prints one JSON object as its last line.
    """
    raw = folder / "capture.raw"
    write_wav(folder / "capture.wav", audio)
    raw.write_bytes(np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes())
    asoundrc = folder / "asoundrc"
    asoundrc.write_text(
        f'pcm.!default {{\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n  infile "{raw}"\n  format "raw"\n}}\n'
    )
    return run_python(script, {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{asoundrc}"}, timeout)


def run_python(script: str, env: dict[str, str], timeout: float = 120) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


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
