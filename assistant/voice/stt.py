"""Speech to text behind one interface, with two Whisper backends that both run offline.

faster-whisper (CTranslate2, int8) is the default: ~1 s to load, a few hundred ms per command
on 2 cores. openai-whisper is the reference implementation, used to check the first; offline it
runs a checkpoint converted from the same bundled tiny.en (see :mod:`assistant.voice.whisper_convert`).
Both decode the same way: beam 5, temperature 0 without fallback, no timestamps, English, no
conditioning on earlier text; silence is trimmed first because a long silent tail makes Whisper
repeat the sentence. Silence in gives "", noise gives whatever Whisper hears (often "" or a
bracketed noise token), never an exception.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from assistant.voice.audio import SAMPLE_RATE, trim_silence

BACKENDS = ("faster-whisper", "openai-whisper")
# The same decoding for both backends (see the module docstring).
DECODING = {"language": "en", "beam_size": 5, "temperature": 0.0, "without_timestamps": True,
            "condition_on_previous_text": False}
MIN_SPEECH_S = 0.1


class Transcriber(Protocol):
    def transcribe(self, audio: np.ndarray) -> str:
        """Text of float32 mono 16 kHz audio."""
        ...


def _prepare(audio: np.ndarray) -> np.ndarray | None:
    """Trimmed float32 audio, or None when nothing audible is left."""
    trimmed = trim_silence(np.asarray(audio, dtype=np.float32).ravel())
    return trimmed if trimmed.size >= MIN_SPEECH_S * SAMPLE_RATE else None


class FasterWhisperTranscriber:
    """faster-whisper on CPU, int8; ``model`` is a CTranslate2 folder (default: the bundled tiny.en)."""

    def __init__(self, model: str | None = None, cpu_threads: int = 2) -> None:
        from faster_whisper import WhisperModel

        from assistant.models import embedded_whisper_dir

        self.model = WhisperModel(model or str(embedded_whisper_dir()), device="cpu", compute_type="int8", cpu_threads=cpu_threads)

    def transcribe(self, audio: np.ndarray) -> str:
        audio = _prepare(audio)
        if audio is None:
            return ""
        segments, _info = self.model.transcribe(audio, **DECODING)
        return " ".join(segment.text.strip() for segment in segments).strip()


class OpenAIWhisperTranscriber:
    """openai-whisper on CPU in float32; ``model`` is a checkpoint path or a model name (names download)."""

    def __init__(self, model: str | None = None) -> None:
        import whisper

        from assistant.voice.whisper_convert import converted_checkpoint

        self._whisper = whisper
        self.model = whisper.load_model(model or str(converted_checkpoint()), device="cpu")

    def transcribe(self, audio: np.ndarray) -> str:
        audio = _prepare(audio)
        if audio is None:
            return ""
        result = self._whisper.transcribe(self.model, audio, **DECODING, fp16=False, verbose=None)
        return str(result["text"]).strip()


def load_transcriber(backend: str = "faster-whisper", model: str | None = None) -> Transcriber:
    """Load a Whisper backend (``faster-whisper`` or ``openai-whisper``) for CPU inference."""
    if backend == "faster-whisper":
        return FasterWhisperTranscriber(model)
    if backend == "openai-whisper":
        return OpenAIWhisperTranscriber(model)
    raise ValueError(f"unknown speech-to-text backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER after Whisper's English text normalization, so "12" and "twelve" or "it's"/"it is" agree."""
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    normalize = EnglishTextNormalizer()
    return jiwer.wer([normalize(text) for text in references], [normalize(text) or "<empty>" for text in hypotheses])
