"""Hearing "stop" while the assistant speaks or rings, and nothing else.

While the assistant talks, the microphone hears the assistant too. Instead of routing that audio,
the listening loop feeds it frame by frame to :class:`BargeIn`, which only answers whether someone
said one of a few stop words: whatever else is heard (the assistant's own voice included) is
dropped, so the assistant never acts on its own answers. Silero VAD finds short voiced stretches;
each is transcribed with the same Whisper model as commands and matched by whole words, so that
"stopped" in an answer is not "stop".

Whisper tiny.en does mishear the assistant's own "stopped" as "stop" now and then (more so in a
stretch cut in mid-word), and an answer may say "quiet" or "cancel" itself. So a stop must be
said on its own (a transcript of at most :data:`MAX_WORDS` words: "stop", "okay, shut up"; the
wake word may start a longer one, as it starts a command), and a phrase that begins a word of what
the assistant is saying ("cancel" while it says "Cancelled your timer.") cannot stop it; the other
phrases still can.
"""

from __future__ import annotations

import re
from collections import deque

import numpy as np

from assistant.voice.audio import FRAME_S, SPEECH_THRESHOLD, SpeechDetector
from assistant.voice.stt import Transcriber

STOP_PHRASES = ("stop", "cancel", "quiet", "enough", "shut up")
MAX_WORDS = 3  # longer transcripts are conversation or the assistant overheard, not a stop


def words(text: str) -> list[str]:
    """Lower-case words of a transcript, punctuation and hyphens dropped ("Shut-up!" is shut, up)."""
    return re.findall(r"[a-z0-9']+", text.casefold())


class BargeIn:
    """Answers, frame by frame, whether the user has just said "stop" (or the wake word).

    A stretch starts at a voiced frame (with ``pad_s`` of audio before it) and ends after
    ``quiet_s`` of quiet, or at ``max_s``: then it is transcribed, in the caller's thread, so there
    is never more than one transcription at a time. A stretch cut at ``max_s`` keeps its last
    ``pad_s`` for the next one, so that a word spoken across the cut is still heard whole.
    """

    def __init__(
        self,
        transcriber: Transcriber,
        wake_word: str = "",
        detector: SpeechDetector | None = None,
        threshold: float = SPEECH_THRESHOLD,
        quiet_s: float = 0.2,
        max_s: float = 1.5,
        pad_s: float = 0.3,
        min_speech_s: float = 0.1,
    ) -> None:
        self.transcriber = transcriber
        self.wake_word = words(wake_word)
        self.phrases = [words(phrase) for phrase in STOP_PHRASES] + ([self.wake_word] if self.wake_word else [])
        self.detector = detector or SpeechDetector()
        self.threshold = threshold
        self._quiet_frames = max(1, round(quiet_s / FRAME_S))
        self._max_frames = max(1, round(max_s / FRAME_S))
        self._pad_frames = max(1, round(pad_s / FRAME_S))
        self._min_speech_frames = max(1, round(min_speech_s / FRAME_S))
        self.reset()

    def reset(self) -> None:
        """Forget what was heard: call it when the assistant starts speaking."""
        self.detector.reset()
        self._own: set[str] = set()  # the words the assistant has said since the reset
        self._saying = ""
        self._before: deque[np.ndarray] = deque(maxlen=self._pad_frames)
        self._stretch: list[np.ndarray] = []
        self._speech = self._quiet = 0

    def hears_stop(self, frame: np.ndarray, saying: str = "") -> bool:
        """Take the next microphone frame (float32, 16 kHz, :data:`FRAME` samples) and what the
        assistant is saying meanwhile; True once a stop phrase has been said, after which
        everything heard so far is forgotten."""
        if saying != self._saying:
            self._saying = saying
            self._own.update(words(saying))
        frame = np.asarray(frame, dtype=np.float32).ravel()
        probability = self.detector(frame)
        if not self._stretch:
            if probability < self.threshold:
                self._before.append(frame)
                return False
            self._stretch = [*self._before]
            self._before.clear()
        self._stretch.append(frame)
        if probability >= self.threshold:
            self._speech, self._quiet = self._speech + 1, 0
        elif probability < self.threshold - 0.15:  # Silero's hysteresis, as in audio.segment
            self._quiet += 1
        if self._quiet >= self._quiet_frames:
            return self._finish(carry=[])
        if len(self._stretch) >= self._max_frames:
            return self._finish(carry=self._stretch[-self._pad_frames :])
        return False

    def _finish(self, carry: list[np.ndarray]) -> bool:
        """Transcribe the stretch (unless it was a blip) and start the next one with ``carry``."""
        heard = self._speech >= self._min_speech_frames and self._matches(
            self.transcriber.transcribe(np.concatenate(self._stretch))
        )
        self._stretch, self._speech, self._quiet = carry, 0, 0
        if heard:
            self.reset()
        return heard

    def _matches(self, transcript: str) -> bool:
        said = words(transcript)
        phrases = [phrase for phrase in self.phrases if not any(word.startswith(phrase[0]) for word in self._own)]
        if self.wake_word in phrases and said[: len(self.wake_word)] == self.wake_word:
            return True
        return len(said) <= MAX_WORDS and any(
            said[i : i + len(phrase)] == phrase for phrase in phrases for i in range(len(said))
        )
