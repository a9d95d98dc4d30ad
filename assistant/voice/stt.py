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

import math
from typing import Protocol

import numpy as np

from assistant.voice.audio import SAMPLE_RATE, trim_silence

BACKENDS = ("faster-whisper", "openai-whisper")
# The same decoding for both backends (see the module docstring).
DECODING = {"language": "en", "beam_size": 5, "temperature": 0.0, "without_timestamps": True,
            "condition_on_previous_text": False}
MIN_SPEECH_S = 0.1
CONTEXTS = ("audio", "30s")  # what the encoder sees: the command itself, or Whisper's whole 30 s window
WINDOW_S, TAIL_S, MIN_WINDOW_S = 30, 0.5, 8  # Whisper's window; the short one's silence after a command, least length
MAX_TOKENS = 224  # Whisper's own limit for one window's text
NO_SPEECH_THRESHOLD, LOGPROB_THRESHOLD = 0.6, -1.0  # faster-whisper's defaults


class Transcriber(Protocol):
    def transcribe(self, audio: np.ndarray) -> str:
        """Text of float32 mono 16 kHz audio."""
        ...


def _prepare(audio: np.ndarray) -> np.ndarray | None:
    """Trimmed float32 audio, or None when nothing audible is left."""
    trimmed = trim_silence(np.asarray(audio, dtype=np.float32).ravel())
    return trimmed if trimmed.size >= MIN_SPEECH_S * SAMPLE_RATE else None


class FasterWhisperTranscriber:
    """faster-whisper on CPU, int8; ``model`` is a CTranslate2 folder (default: the bundled tiny.en).

    With ``context="audio"`` the encoder sees the command padded with silence to whole seconds,
    at least 8, instead of Whisper's 30-second window: CTranslate2's Whisper encoder takes any
    length up to 30 s and its cost follows the length, which is what makes recognising while the
    user speaks affordable. Below about 8 s tiny.en starts to repeat the sentence (measured on the
    bundled recordings: 28 % WER with 1 s of padding, 0.7 % at 8 s). Decoding, the no-speech rule
    and the text are faster-whisper's own; ``context="30s"`` is faster-whisper's ``transcribe``.
    """

    def __init__(self, model: str | None = None, cpu_threads: int = 2, context: str = "audio") -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        from assistant.models import embedded_whisper_dir

        if context not in CONTEXTS:
            raise ValueError(f"unknown encoder context {context!r}: choose one of {', '.join(CONTEXTS)}")
        self.context = context
        self.model = WhisperModel(model or str(embedded_whisper_dir()), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        multilingual = self.model.model.is_multilingual
        self._tokenizer = Tokenizer(self.model.hf_tokenizer, multilingual, task="transcribe",
                                    language=DECODING["language"] if multilingual else None)
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def transcribe(self, audio: np.ndarray) -> str:
        audio = _prepare(audio)
        if audio is None:
            return ""
        if self.context == "30s" or audio.size > (WINDOW_S - TAIL_S) * SAMPLE_RATE:
            segments, _info = self.model.transcribe(audio, **DECODING)
            return " ".join(segment.text.strip() for segment in segments).strip()
        return self._transcribe_short(audio)

    def _transcribe_short(self, audio: np.ndarray) -> str:
        import ctranslate2

        seconds = max(MIN_WINDOW_S, math.ceil(audio.size / SAMPLE_RATE + TAIL_S))  # zeros after it, as Whisper pads
        padded = np.zeros(seconds * SAMPLE_RATE, dtype=np.float32)
        padded[: audio.size] = audio
        features = self.model.feature_extractor(padded, padding=0)[:, : seconds * 100]
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
                                          to_cpu=False)
        result = self.model.model.generate(encoded, [self._prompt], beam_size=DECODING["beam_size"],
                                           max_length=MAX_TOKENS, return_scores=True, return_no_speech_prob=True,
                                           suppress_blank=True, suppress_tokens=self._suppress)[0]
        tokens = result.sequences_ids[0]
        average_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and average_logprob < LOGPROB_THRESHOLD:
            return ""  # faster-whisper's rule: probably not speech, and not confidently read
        return without_repeats(self._tokenizer.decode(tokens).strip())


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


def without_repeats(text: str) -> str:
    """The text once, when it is nothing but itself said again ("Shut up! Shut up!"): the loop Whisper
    falls into when the audio ends well before its window does. Words compare without case or punctuation."""
    words = text.split()
    plain = [word.strip(".,!?;:").casefold() for word in words]
    for period in range(1, len(words) // 2 + 1):
        if all(plain[index] == plain[index % period] for index in range(len(words))):
            return " ".join(words[:period])
    return text


def without_closing_punctuation(text: str) -> str:
    """The transcript without the full stop, question or exclamation mark Whisper ends it with. The
    router's training utterances end in a word (13 of 7,047 written ones in a full stop), and a
    command cut off at a pause should read as the cut it is: "Set a timer for", not "Set a timer for."."""
    return text.rstrip(" .?!…")


def load_transcriber(backend: str = "faster-whisper", model: str | None = None, context: str = "audio") -> Transcriber:
    """Load a Whisper backend (``faster-whisper`` or ``openai-whisper``) for CPU inference; ``context``
    is faster-whisper's encoder context (see :class:`FasterWhisperTranscriber`)."""
    if backend == "faster-whisper":
        return FasterWhisperTranscriber(model, context=context)
    if backend == "openai-whisper":
        return OpenAIWhisperTranscriber(model)
    raise ValueError(f"unknown speech-to-text backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER after Whisper's English text normalization, so "12" and "twelve" or "it's"/"it is" agree."""
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    normalize = EnglishTextNormalizer()
    return jiwer.wer([normalize(text) for text in references], [normalize(text) or "<empty>" for text in hypotheses])
