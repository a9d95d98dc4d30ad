"""Speech to text behind one interface, with two Whisper backends that both run offline.

faster-whisper (CTranslate2, int8) is the default: ~1 s to load, a few hundred ms per command
on 2 cores. openai-whisper is the reference implementation, used to check the first; offline it
runs a checkpoint converted from the same bundled tiny.en (see :mod:`assistant.voice.whisper_convert`).
Both decode the same way: beam 5, temperature 0 without fallback, no timestamps, English, no
conditioning on earlier text; silence is trimmed first because a long silent tail makes Whisper
repeat the sentence. Silence in gives "", noise gives whatever Whisper hears (often "" or a
bracketed noise token), never an exception.

Audio with too little speech for Silero VAD is not recognised at all, the text decoded is capped by
the seconds of speech heard, and a phrase repeated over and over is kept once (Whisper loops so on
real recordings: "run party time! run party time! ...").

A pack's vocabulary prompt (:mod:`assistant.voice.vocabulary`) is trusted only where Whisper reads the
audio with it confidently: in babble a prompted Whisper follows one talker and strings the prompt's
words into an order nobody gave, unsure of every word. A prompted reading whose mean token
log-probability is below :data:`PROMPT_FLOOR` is read again without the prompt, so such audio is heard
as it would be without one.

Beside its best reading, the short context's beam offers the others Whisper holds nearly as likely
(:data:`READING_MARGIN`), so that the assistant can prefer one that is a sentence of its skill pack
(:meth:`assistant.pipeline.Assistant.recognise`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from assistant.config import MAX_READINGS, VoiceConfig
from assistant.runtime.pack import SkillPack
from assistant.voice.audio import FRAME_S, SAMPLE_RATE, SPEECH_THRESHOLD, SpeechDetector, frames_of, trim_silence
from assistant.voice.vocabulary import copies_prompt, recognition_prompt

if TYPE_CHECKING:
    import ctranslate2

BACKENDS = ("faster-whisper", "openai-whisper")
# The same decoding for both backends (see the module docstring).
DECODING = {
    "language": "en",
    "beam_size": MAX_READINGS,
    "temperature": 0.0,
    "without_timestamps": True,
    "condition_on_previous_text": False,
}
MIN_SPEECH_S = 0.1
CONTEXTS = ("audio", "30s")  # what the encoder sees: the command itself, or Whisper's whole 30 s window
WINDOW_S, TAIL_S, MIN_WINDOW_S = 30, 0.5, 8  # Whisper's window; the short one's silence after a command, least length
MAX_TOKENS = 224  # Whisper's own limit for one window's text
MIN_VOICED_S = 0.2  # Silero VAD: less speech than this is not recognised
TOKENS_PER_VOICED_S, MIN_TEXT_TOKENS = 10, 16  # the most text a second of speech can hold (fast speech: ~5)
MIN_REPEATS = 3  # a phrase said this many times in a row is kept once
NO_SPEECH_THRESHOLD, LOGPROB_THRESHOLD = 0.6, -1.0  # faster-whisper's defaults
PROMPT_FLOOR = VoiceConfig.stt_prompt_floor  # chosen on the barista benchmark's settings fifth and quiet clips
READINGS = VoiceConfig.stt_readings
READING_MARGIN = 0.3  # mean token log-probability below the best reading's that another may lie and still be offered

Reading = tuple[str, float]  # Whisper's text and its mean log-probability per token


class Transcriber(Protocol):
    def transcribe(self, audio: np.ndarray) -> str:
        """Text of float32 mono 16 kHz audio."""
        ...


class Recogniser(Transcriber, Protocol):
    def readings(self, audio: np.ndarray) -> list[str]:
        """What may have been said, the likeliest first (its text is :meth:`transcribe`'s); [] when nothing was."""
        ...


class SpeechGate:
    """Seconds of speech in a clip by Silero VAD, so that silence and noise never reach Whisper."""

    def __init__(self) -> None:
        self._detector = SpeechDetector()
        self._lock = threading.Lock()

    def voiced_s(self, audio: np.ndarray) -> float:
        with self._lock:
            self._detector.reset()
            voiced = sum(self._detector(frame) >= SPEECH_THRESHOLD for frame in frames_of([audio]))
        return float(voiced * FRAME_S)


def _prepare(audio: np.ndarray, gate: SpeechGate) -> tuple[np.ndarray, int] | None:
    """Trimmed float32 audio and the most text tokens it can hold, or None when no speech is in it."""
    trimmed = trim_silence(np.asarray(audio, dtype=np.float32).ravel())
    if trimmed.size < MIN_SPEECH_S * SAMPLE_RATE:
        return None
    voiced = gate.voiced_s(trimmed)
    if voiced < MIN_VOICED_S:
        return None
    return trimmed, min(MAX_TOKENS // 2, MIN_TEXT_TOKENS + math.ceil(voiced * TOKENS_PER_VOICED_S))


class FasterWhisperTranscriber:
    """faster-whisper on CPU, int8; ``model`` is a CTranslate2 folder (default: the bundled tiny.en).

    With ``context="audio"`` the encoder sees the command padded with silence to whole seconds,
    at least 8, instead of Whisper's 30-second window: CTranslate2's Whisper encoder takes any
    length up to 30 s and its cost follows the length, which is what makes recognising while the
    user speaks affordable. Below about 8 s tiny.en starts to repeat the sentence. The decoder,
    trained only on whole windows, still reads a short one worse, so it is given one: the command's
    encoding followed by the rest of a silent window's (encoded once). Decoding, the no-speech rule
    and the text are faster-whisper's own; ``context="30s"`` is faster-whisper's ``transcribe``.
    """

    def __init__(
        self,
        model: str | None = None,
        cpu_threads: int = 2,
        context: str = "audio",
        pack: SkillPack | None = None,
        prompt_floor: float = PROMPT_FLOOR,
        readings: int = READINGS,
    ) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        from assistant.models import embedded_whisper_dir

        if context not in CONTEXTS:
            raise ValueError(f"unknown encoder context {context!r}: choose one of {', '.join(CONTEXTS)}")
        self.context = context
        self.most_readings = readings
        self.model = WhisperModel(
            model or str(embedded_whisper_dir()), device="cpu", compute_type="int8", cpu_threads=cpu_threads
        )
        multilingual = self.model.model.is_multilingual
        self._tokenizer = Tokenizer(
            self.model.hf_tokenizer,
            multilingual,
            task="transcribe",
            language=DECODING["language"] if multilingual else None,
        )
        self._start = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))
        self._gate = SpeechGate()
        self._silent_window = self._encode(np.zeros(0, dtype=np.float32), WINDOW_S) if context == "audio" else None
        self.prompt = recognition_prompt(pack, lambda text: len(self._prompt_tokens(text))) if pack else ""
        self.prompt_floor = prompt_floor
        # A prompt is text said before the audio: Whisper's "previous text" marker, then its tokens.
        self._prompted = [self._tokenizer.sot_prev, *self._prompt_tokens(self.prompt)] if self.prompt else []

    def _prompt_tokens(self, text: str) -> list[int]:
        tokens: list[int] = self._tokenizer.encode(" " + text.strip())
        return tokens

    def transcribe(self, audio: np.ndarray) -> str:
        return next(iter(self.readings(audio)), "")

    def readings(self, audio: np.ndarray) -> list[str]:
        prepared = _prepare(audio, self._gate)
        if prepared is None:
            return []
        audio, most_tokens = prepared
        if self.context == "30s" or audio.size > (WINDOW_S - TAIL_S) * SAMPLE_RATE:
            return trusted_readings(lambda prompted: self._read_window(audio, most_tokens, prompted), self)
        encoded = self._encode_short(audio)
        return trusted_readings(lambda prompted: self._read_short(encoded, most_tokens, prompted), self)

    def _read_window(self, audio: np.ndarray, most_tokens: int, prompted: bool) -> list[Reading]:
        """faster-whisper's own ``transcribe``: its best reading alone."""
        segments, _info = self.model.transcribe(
            audio, **DECODING, max_new_tokens=most_tokens, initial_prompt=self.prompt if prompted else None
        )
        read = [(segment.text.strip(), segment.avg_logprob, len(segment.tokens)) for segment in segments]
        return [(" ".join(text for text, _, _ in read), _mean_logprob([(lp, n) for _, lp, n in read]))]

    def _encode(self, audio: np.ndarray, seconds: int) -> np.ndarray:
        """Whisper's encoder output for ``audio`` padded with zeros to ``seconds``: (1, 50 per second, width)."""
        import ctranslate2

        padded = np.zeros(seconds * SAMPLE_RATE, dtype=np.float32)
        padded[: audio.size] = audio
        features = self.model.feature_extractor(padded, padding=0)[:, : seconds * 100]
        encoded = self.model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])), to_cpu=True
        )
        return np.asarray(encoded)

    def _encode_short(self, audio: np.ndarray) -> ctranslate2.StorageView:
        """The command's encoding followed by the rest of a silent window's."""
        import ctranslate2

        assert self._silent_window is not None
        seconds = max(MIN_WINDOW_S, math.ceil(audio.size / SAMPLE_RATE + TAIL_S))  # zeros after it, as Whisper pads
        command = self._encode(audio, seconds)
        window = np.concatenate([command, self._silent_window[:, command.shape[1] :]], axis=1)
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(window))

    def _read_short(self, encoded: ctranslate2.StorageView, most_tokens: int, prompted: bool) -> list[Reading]:
        """The beam's readings, the best first."""
        start = [*(self._prompted if prompted else []), *self._start]
        result = self.model.model.generate(
            encoded,
            [start],
            beam_size=DECODING["beam_size"],
            num_hypotheses=self.most_readings,
            max_length=len(start) + most_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        # CTranslate2 scores a reading by its log-probability over its length; faster-whisper's mean counts the end too.
        read = [
            (tokens, score * len(tokens) / (len(tokens) + 1))
            for tokens, score in zip(result.sequences_ids, result.scores, strict=True)
        ]
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and read[0][1] < LOGPROB_THRESHOLD:
            return []  # faster-whisper's rule: probably not speech, and not confidently read
        return [(self._tokenizer.decode(tokens), average_logprob) for tokens, average_logprob in read]


class OpenAIWhisperTranscriber:
    """openai-whisper on CPU in float32; ``model`` is a checkpoint path or a model name (names download)."""

    def __init__(
        self, model: str | None = None, pack: SkillPack | None = None, prompt_floor: float = PROMPT_FLOOR
    ) -> None:
        import whisper
        from whisper.tokenizer import get_tokenizer

        from assistant.voice.whisper_convert import converted_checkpoint

        self._whisper = whisper
        self.model = whisper.load_model(model or str(converted_checkpoint()), device="cpu")
        self._gate = SpeechGate()
        tokenizer = get_tokenizer(self.model.is_multilingual, language="en", task="transcribe")
        self.prompt = recognition_prompt(pack, lambda text: len(tokenizer.encode(" " + text.strip()))) if pack else ""
        self.prompt_floor = prompt_floor

    def transcribe(self, audio: np.ndarray) -> str:
        return next(iter(self.readings(audio)), "")

    def readings(self, audio: np.ndarray) -> list[str]:
        """Its best reading alone: openai-whisper's ``transcribe`` keeps no other."""
        prepared = _prepare(audio, self._gate)
        if prepared is None:
            return []
        audio, most_tokens = prepared
        return trusted_readings(lambda prompted: [self._read(audio, most_tokens, prompted)], self)

    def _read(self, audio: np.ndarray, most_tokens: int, prompted: bool) -> Reading:
        result = self._whisper.transcribe(
            self.model,
            audio,
            **DECODING,
            fp16=False,
            verbose=None,
            sample_len=most_tokens,
            initial_prompt=self.prompt if prompted else None,
        )
        segments = [(segment["avg_logprob"], len(segment["tokens"])) for segment in result["segments"]]
        return str(result["text"]), _mean_logprob(segments)


class Prompted(Protocol):
    """A transcriber told a pack's vocabulary: the prompt ("" for none) and the floor it is trusted from."""

    prompt: str
    prompt_floor: float


def trusted_readings(read: Callable[[bool], list[Reading]], transcriber: Prompted) -> list[str]:
    """What may have been said, the best reading first: read with the transcriber's prompt where it has one, and
    read again without it when Whisper is unsure of the best prompted reading (below its ``prompt_floor``), see
    the module docstring; then the readings within :data:`READING_MARGIN` of the best, each once. Nothing when
    the best is nothing (:func:`heard`). Tokens that spell the same text are one reading."""
    prompt = transcriber.prompt
    readings = read(bool(prompt))
    if prompt and readings and readings[0][1] < transcriber.prompt_floor:
        prompt, readings = "", read(False)
    texts: list[str] = []
    for text, logprob in readings:
        said = heard(text, prompt)
        if not texts and not said:
            return []
        if said and said not in texts and logprob >= readings[0][1] - READING_MARGIN:
            texts.append(said)
    return texts


def _mean_logprob(segments: list[tuple[float, int]]) -> float:
    """The mean log-probability per token of segments given as (their mean, their tokens); 0 for none."""
    tokens = sum(count for _, count in segments)
    return sum(logprob * count for logprob, count in segments) / tokens if tokens else 0.0


def heard(text: str, prompt: str) -> str:
    """What was said, from Whisper's text: its loops cut (:func:`without_repeats`), and nothing when the
    text is the prompt heard back (:func:`~assistant.voice.vocabulary.copies_prompt`)."""
    text = without_repeats(text.strip())
    return "" if prompt and copies_prompt(text, prompt) else text


def without_repeats(text: str) -> str:
    """The text with Whisper's loops cut to one copy: a text that is nothing but itself said again
    ("Shut up! Shut up!"), and a phrase said :data:`MIN_REPEATS` or more times in a row ("run party
    time! run party time! run party time!"). Words compare without case or punctuation."""
    words = text.split()
    plain = [word.strip(".,!?;:").casefold() for word in words]
    for period in range(1, len(words) // 2 + 1):
        if all(plain[index] == plain[index % period] for index in range(len(words))):
            return " ".join(words[:period])
    kept: list[str] = []
    index = 0
    while index < len(words):
        period = _repeating_period(plain, index)
        copies = 1
        if period:
            while plain[index + copies * period : index + (copies + 1) * period] == plain[index : index + period]:
                copies += 1
        step = period * copies if period else 1
        kept += words[index : index + (period or 1)]
        index += step
    return " ".join(kept)


def _repeating_period(plain: list[str], start: int) -> int:
    """The shortest phrase length that repeats :data:`MIN_REPEATS` times from ``start``, or 0."""
    for period in range(1, (len(plain) - start) // MIN_REPEATS + 1):
        phrase = plain[start : start + period]
        if plain[start + period] == plain[start] and all(
            plain[start + copy * period : start + (copy + 1) * period] == phrase for copy in range(1, MIN_REPEATS)
        ):
            return period
    return 0


def without_closing_punctuation(text: str) -> str:
    """The transcript without the full stop, question or exclamation mark Whisper ends it with. The
    router's training utterances end in a word (13 of 7,047 written ones in a full stop), and a
    command cut off at a pause should read as the cut it is: "Set a timer for", not "Set a timer for."."""
    return text.rstrip(" .?!…")


def load_transcriber(
    backend: str = "faster-whisper",
    model: str | None = None,
    context: str = "audio",
    pack: SkillPack | None = None,
    prompt_floor: float = PROMPT_FLOOR,
    readings: int = READINGS,
) -> Recogniser:
    """Load a Whisper backend (``faster-whisper`` or ``openai-whisper``) for CPU inference; ``context``
    is faster-whisper's encoder context (see :class:`FasterWhisperTranscriber`); with a ``pack``, recognition
    is told the pack's closed vocabularies (:mod:`assistant.voice.vocabulary`) where it reads them with at
    least ``prompt_floor``; up to ``readings`` of the beam's readings are offered (see the module docstring)."""
    if backend == "faster-whisper":
        return FasterWhisperTranscriber(model, context=context, pack=pack, prompt_floor=prompt_floor, readings=readings)
    if backend == "openai-whisper":
        return OpenAIWhisperTranscriber(model, pack=pack, prompt_floor=prompt_floor)
    raise ValueError(f"unknown speech-to-text backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def configured_transcriber(voice: VoiceConfig, pack: SkillPack) -> Recogniser:
    """The recogniser ``[voice]`` asks for, as ``voxroute run`` hears with it: backend, model, encoder context,
    the pack's vocabulary where ``stt_vocabulary`` says, trusted from ``stt_prompt_floor`` up, and
    ``stt_readings`` of the beam's readings."""
    vocabulary = pack if voice.stt_vocabulary else None
    return load_transcriber(
        voice.stt, voice.stt_model, voice.stt_context, vocabulary, voice.stt_prompt_floor, voice.stt_readings
    )


def transcript_normalizer() -> Callable[[str], str]:
    """Whisper's English text normalization: how transcripts are compared, so "12" and "twelve" or
    "it's"/"it is" agree (openai-whisper's, imported here so that the runtime needs it only to measure)."""
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()  # type: ignore[no-any-return]


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER after :func:`transcript_normalizer`."""
    import jiwer

    normalize = transcript_normalizer()
    return jiwer.wer([normalize(text) for text in references], [normalize(text) or "<empty>" for text in hypotheses])
